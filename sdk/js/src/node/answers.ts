/** Reading the server's answers: its error envelope, and the events an accepted batch refused. */

/** The server's message from its error envelope, else the status text (the body is consumed). */
export async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") return body.error.message;
  } catch {
    // not JSON: the status text says what there is to say
  }
  return response.statusText || "no message";
}

/** `data.rejected` of an accepted batch (events refused one by one); empty when there is none. */
export async function rejectedOf(response: Response): Promise<unknown[]> {
  try {
    const body = (await response.json()) as { data?: { rejected?: unknown } };
    return Array.isArray(body.data?.rejected) ? body.data.rejected : [];
  } catch {
    return [];
  }
}
