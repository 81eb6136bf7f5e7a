import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";

export type GuardedRollout = components["schemas"]["GuardedRolloutRead"];
export type SafetySettings = components["schemas"]["SafetySettingsRead"];
export type SafetySettingsUpdate = components["schemas"]["SafetySettingsUpdate"];

/** A flag's guarded rollouts, newest first; polled while one runs (the monitor acts on its own). */
export function useGuardedRollouts(flagKey: string) {
  return useQuery({
    queryKey: ["flag", flagKey, "guarded-rollouts"],
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/feature-flags/{key}/guarded-rollouts", { params: { path: { key: flagKey } } }))).data,
    refetchInterval: (query) => (query.state.data?.some((r) => r.status === "running") ? 10_000 : false),
  });
}

export type GuardedRolloutCreate = components["schemas"]["GuardedRolloutCreate"];

export function useRolloutActions(flagKey: string) {
  const client = useQueryClient();
  const done = () => {
    void client.invalidateQueries({ queryKey: ["flag", flagKey] });
    void client.invalidateQueries({ queryKey: ["audit"] });
  };
  const path = (id: string) => ({ params: { path: { key: flagKey, rollout_id: id } } });
  return {
    start: useMutation({
      mutationFn: async (body: GuardedRolloutCreate) =>
        (await unwrap(api.POST("/api/v1/feature-flags/{key}/guarded-rollouts", { params: { path: { key: flagKey } }, body }))).data,
      onSuccess: done,
    }),
    advance: useMutation({
      mutationFn: async ({ id, percentage }: { id: string; percentage: number }) =>
        (await unwrap(api.POST("/api/v1/feature-flags/{key}/guarded-rollouts/{rollout_id}/advance", { ...path(id), body: { percentage } }))).data,
      onSuccess: done,
    }),
    cancel: useMutation({
      mutationFn: async (id: string) => (await unwrap(api.POST("/api/v1/feature-flags/{key}/guarded-rollouts/{rollout_id}/cancel", path(id)))).data,
      onSuccess: done,
    }),
    resume: useMutation({
      mutationFn: async (id: string) => (await unwrap(api.POST("/api/v1/feature-flags/{key}/guarded-rollouts/{rollout_id}/resume", path(id)))).data,
      onSuccess: done,
    }),
  };
}

/** The environment's safety settings, or (with a flag key) the flag's override there. */
export function useSafetySettings(env: string, flagKey?: string) {
  return useQuery({
    queryKey: ["safety-settings", env, flagKey ?? ""],
    queryFn: async () =>
      flagKey
        ? (await unwrap(api.GET("/api/v1/feature-flags/{key}/environments/{env}/safety-settings", { params: { path: { key: flagKey, env } } }))).data
        : (await unwrap(api.GET("/api/v1/environments/{env}/safety-settings", { params: { path: { env } } }))).data,
  });
}

export function useSaveSafetySettings(env: string, flagKey?: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: SafetySettingsUpdate) =>
      flagKey
        ? (await unwrap(api.PUT("/api/v1/feature-flags/{key}/environments/{env}/safety-settings", { params: { path: { key: flagKey, env } }, body }))).data
        : (await unwrap(api.PUT("/api/v1/environments/{env}/safety-settings", { params: { path: { env } }, body }))).data,
    onSuccess: (saved) => {
      client.setQueryData(["safety-settings", env, flagKey ?? ""], saved);
      void client.invalidateQueries({ queryKey: ["audit"] });
    },
  });
}

export function useMetricKeys() {
  return useQuery({
    queryKey: ["metrics", "keys"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/metrics"))).data.map((m) => m.key),
    staleTime: 60_000,
  });
}
