// Query hooks of the results page. The results payload is read through `types.ts` (the OpenAPI
// document leaves each metric's analysis free-form), so these calls go through the same
// authenticated fetch as the typed client and turn an error answer into the same ApiError.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, authedFetch, toApiError, unwrap } from "../api/client";
import type { Breach, Results, ResultsMeta, ResultsSettings } from "./types";

async function request<T>(method: "GET" | "POST", path: string): Promise<T> {
  const response = await authedFetch(new Request(path, { method, headers: { "Content-Type": "application/json" } }));
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) throw toApiError(response.status, body);
  return body as T;
}

export function resultsQuery(settings: ResultsSettings): URLSearchParams {
  const query = new URLSearchParams({
    engine: settings.engine,
    cuped: String(settings.cuped),
    correction: settings.correction,
  });
  if (settings.engine === "bayesian") {
    query.set("win_threshold", String(settings.win));
    query.set("lose_threshold", String(settings.lose));
  }
  return query;
}

export function useResults(key: string, settings: ResultsSettings) {
  return useQuery({
    queryKey: ["results", key, settings],
    queryFn: () =>
      request<{ data: Results; meta: ResultsMeta }>(
        "GET",
        `/api/v1/experiments/${encodeURIComponent(key)}/results?${resultsQuery(settings).toString()}`,
      ),
    placeholderData: keepPreviousData,
    // the next aggregation run brings new numbers: look again once a minute
    refetchInterval: 60_000,
  });
}

export function useBreaches(key: string) {
  return useQuery({
    queryKey: ["guardrail-breaches", key],
    queryFn: async () =>
      (await request<{ data: Breach[] }>("GET", `/api/v1/experiments/${encodeURIComponent(key)}/guardrail-breaches`)).data,
    refetchInterval: 60_000,
  });
}

export function useExperiment(key: string) {
  return useQuery({
    queryKey: ["experiment", key],
    queryFn: async () => (await unwrap(api.GET("/api/v1/experiments/{ref}", { params: { path: { ref: key } } }))).data,
  });
}

export interface AggregateAnswer {
  experiment_key: string;
  aggregated_at: string | null;
  duration_ms: number;
}

/** "Refresh now": run the aggregation for this experiment, then read everything again. */
export function useAggregate(key: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () =>
      (await request<{ data: AggregateAnswer }>("POST", `/api/v1/experiments/${encodeURIComponent(key)}/aggregate`)).data,
    onSuccess: async () => {
      await Promise.all([
        client.invalidateQueries({ queryKey: ["results", key] }),
        client.invalidateQueries({ queryKey: ["guardrail-breaches", key] }),
        client.invalidateQueries({ queryKey: ["experiment", key] }),
      ]);
    },
  });
}
