import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { getJson } from "../api/raw";
import type { components } from "../api/schema";
import type { SeriesPoint } from "../experiments/wizard";

export type FormatType = "count" | "percent" | "number" | "currency" | "duration";

/** How a metric's values read (`format` of the metric definition). */
export interface MetricFormat {
  type: FormatType;
  currency: string | null;
  duration_unit: "ms" | "s" | null;
  decimals: number | null;
}

export type Metric = components["schemas"]["MetricRead"] & { format?: MetricFormat };
export type MetricKind = Metric["kind"];

/** The server's default when a definition names no format. */
export function defaultFormat(kind: MetricKind): MetricFormat {
  const type: FormatType = kind === "binomial" ? "percent" : kind === "count" ? "count" : "number";
  return { type, currency: null, duration_unit: null, decimals: null };
}

export interface Usage {
  experiment_key?: string;
  experiment_name?: string;
  status?: string;
  role: "primary" | "secondary" | "guardrail" | "rollout_guardrail";
  flag_key?: string;
}

export function useMetrics() {
  return useQuery({
    queryKey: ["metrics"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/metrics", { params: { query: { limit: 500 } } }))).data as Metric[],
    staleTime: 30_000,
  });
}

export function useMetric(key: string | undefined) {
  return useQuery({
    queryKey: ["metric", key],
    enabled: Boolean(key),
    queryFn: async () => (await unwrap(api.GET("/api/v1/metrics/{key}", { params: { path: { key: key ?? "" } } }))).data as Metric,
  });
}

export function useSeries(key: string | undefined, days: number) {
  return useQuery({
    queryKey: ["metric", key, "series", days],
    enabled: Boolean(key),
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/metrics/{key}/series", { params: { path: { key: key ?? "" }, query: { days } } }))).data as SeriesPoint[],
  });
}

export function useUsage(key: string | undefined) {
  return useQuery({
    queryKey: ["metric", key, "usage"],
    enabled: Boolean(key),
    queryFn: async () => (await getJson<{ data: Usage[] }>(`/api/v1/metrics/${encodeURIComponent(key ?? "")}/usage`)).data,
    retry: false,
  });
}

export function useMetricMutations() {
  const client = useQueryClient();
  const done = (metric: Metric) => {
    client.setQueryData(["metric", metric.key], metric);
    void client.invalidateQueries({ queryKey: ["metrics"] });
    void client.invalidateQueries({ queryKey: ["audit"] });
  };
  const create = useMutation({
    mutationFn: async (body: Record<string, unknown>) => (await unwrap(api.POST("/api/v1/metrics", { body: body as never }))).data as Metric,
    onSuccess: done,
  });
  const update = useMutation({
    mutationFn: async ({ key, ...body }: Record<string, unknown> & { key: string; version: number }) =>
      (await unwrap(api.PATCH("/api/v1/metrics/{key}", { params: { path: { key } }, body: body as never }))).data as Metric,
    onSuccess: done,
  });
  return { create, update };
}
