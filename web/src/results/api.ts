// Query hooks of the results page, through the typed client (types generated from the OpenAPI
// document; `types.ts` checks at compile time that they fit what the page reads).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { Breach, Results, ResultsMeta, ResultsSettings } from "./types";

export function resultsQuery(settings: ResultsSettings) {
  return {
    engine: settings.engine,
    cuped: settings.cuped,
    correction: settings.correction,
    ...(settings.engine === "bayesian" ? { win_threshold: settings.win, lose_threshold: settings.lose } : {}),
  };
}

/** The page's settings when the address names none (the default analysis). */
export const DEFAULT_SETTINGS: ResultsSettings = { engine: "frequentist", cuped: false, correction: "holm", win: 0.95, lose: 0.05 };

export function useResults(key: string, settings: ResultsSettings, enabled = true) {
  return useQuery({
    enabled,
    queryKey: ["results", key, settings],
    queryFn: async (): Promise<{ data: Results; meta: ResultsMeta }> => {
      const body = await unwrap(
        api.GET("/api/v1/experiments/{ref}/results", { params: { path: { ref: key }, query: resultsQuery(settings) } }),
      );
      return { data: body.data, meta: (body.meta ?? {}) as ResultsMeta };
    },
    placeholderData: keepPreviousData,
    // the next aggregation run brings new numbers: look again once a minute
    refetchInterval: 60_000,
  });
}

export function useBreaches(key: string) {
  return useQuery({
    queryKey: ["guardrail-breaches", key],
    queryFn: async (): Promise<Breach[]> =>
      (await unwrap(api.GET("/api/v1/experiments/{ref}/guardrail-breaches", { params: { path: { ref: key } } }))).data,
    refetchInterval: 60_000,
  });
}

export function useExperiment(key: string) {
  return useQuery({
    queryKey: ["experiment", key],
    queryFn: async () => (await unwrap(api.GET("/api/v1/experiments/{ref}", { params: { path: { ref: key } } }))).data,
  });
}

/** "Refresh now": run the aggregation for this experiment, then read everything again (the guardrail
 * monitor runs after the aggregation, so breaches and the experiment's status may change too). */
export function useAggregate(key: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () =>
      (await unwrap(api.POST("/api/v1/experiments/{ref}/aggregate", { params: { path: { ref: key } } }))).data,
    onSuccess: async () => {
      await Promise.all([
        client.invalidateQueries({ queryKey: ["results", key] }),
        client.invalidateQueries({ queryKey: ["guardrail-breaches", key] }),
        client.invalidateQueries({ queryKey: ["experiment", key] }),
      ]);
    },
  });
}
