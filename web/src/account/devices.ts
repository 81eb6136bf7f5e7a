// A session's device as people say it: "Firefox on Windows", not a 130-character user agent. The
// full text stays at hand (the row's tooltip); this only has to be recognisable, not exact.

/** Browsers, most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari". */
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, "Edge"],
  [/\bOPR\/|\bOpera\b/, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\bHeadlessChrome\//, "Headless Chrome"],
  [/\bChromium\//, "Chromium"],
  [/\bChrome\/|\bCriOS\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
];

/** Systems, most specific first: an iPhone says "like Mac OS X", Android says "Linux". */
const SYSTEMS: [RegExp, string][] = [
  [/\biPhone\b/, "iPhone"],
  [/\biPad\b/, "iPad"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b|\bX11\b/, "Linux"],
];

const find = (table: [RegExp, string][], text: string) => table.find(([pattern]) => pattern.test(text))?.[1];

/** A short, readable name for a user agent: "Chrome on macOS"; a script or tool by its first product
 * token ("curl 8.5.0", "python-httpx 0.27.0"); an empty one as an unknown device. */
export function describeDevice(userAgent: string): string {
  const text = userAgent.trim();
  if (!text) return "Unknown device";
  const browser = find(BROWSERS, text);
  const system = find(SYSTEMS, text);
  if (browser && system) return `${browser} on ${system}`;
  if (browser ?? system) return (browser ?? system) as string;
  // a browser this table does not know still says "Mozilla/5.0" first: no name to give it
  if (/^Mozilla\//.test(text)) return "Unknown browser";
  // not a browser: its first product token, name and version ("curl/8.5.0"), kept short
  const [product = text] = text.split(/\s+/);
  const named = product.replace("/", " ");
  return named.length > 40 ? `${named.slice(0, 39)}…` : named;
}

/** This device's session first (the one a person looks for), the rest as the server sends them: most
 * recently used first. */
export function currentFirst<T extends { current: boolean }>(sessions: readonly T[]): T[] {
  return [...sessions.filter((s) => s.current), ...sessions.filter((s) => !s.current)];
}
