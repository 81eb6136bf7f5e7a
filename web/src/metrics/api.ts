import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";
import type { SeriesPoint } from "../experiments/wizard";

type Schemas = components["schemas"];
/** How a metric's values read (`format` of the metric definition). */
export type MetricFormat = Schemas["MetricFormat"];
export type FormatType = MetricFormat["type"];
export type Metric = Schemas["MetricRead"];
export type MetricKind = Metric["kind"];
export type Usage = Schemas["MetricUsage"];

/** The server's default when a definition names no format. */
export function defaultFormat(kind: MetricKind): MetricFormat {
  const type: FormatType = kind === "binomial" ? "percent" : kind === "count" ? "count" : "number";
  return { type, currency: null, duration_unit: null, decimals: null };
}

export function useMetrics() {
  return useQuery({
    queryKey: ["metrics"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/metrics", { params: { query: { limit: 500 } } }))).data,
    staleTime: 30_000,
  });
}

export function useMetric(key: string | undefined) {
  return useQuery({
    queryKey: ["metric", key],
    enabled: Boolean(key),
    queryFn: async () => (await unwrap(api.GET("/api/v1/metrics/{key}", { params: { path: { key: key ?? "" } } }))).data,
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
    queryFn: async () => (await unwrap(api.GET("/api/v1/metrics/{key}/usage", { params: { path: { key: key ?? "" } } }))).data,
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
    mutationFn: async (body: Record<string, unknown>) => (await unwrap(api.POST("/api/v1/metrics", { body: body as never }))).data,
    onSuccess: done,
  });
  const update = useMutation({
    mutationFn: async ({ key, ...body }: Record<string, unknown> & { key: string; version: number }) =>
      (await unwrap(api.PATCH("/api/v1/metrics/{key}", { params: { path: { key } }, body: body as never }))).data,
    onSuccess: done,
  });
  return { create, update };
}
