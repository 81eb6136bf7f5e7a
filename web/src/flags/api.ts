import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { Flag, StaleFlag } from "../api/types";
import type { Condition } from "./operators";
import type { FlagType, Variation } from "./variations";

export interface Rollout {
  variations: { variation: string; weight: number }[];
  bucket_by?: string;
}
export interface Serve {
  variation?: string;
  rollout?: Rollout;
  experiment?: unknown;
}
export interface Rule {
  id: string;
  conditions: Condition[];
  serve: Serve;
}
export interface EnvConfig {
  enabled: boolean;
  off_variation: string | null;
  targets: { variation: string; values: string[] }[];
  rules: Rule[];
  fallthrough: Serve | null;
  prerequisites: { flag: string; variation: string }[];
  bucket_by: string;
}

export function envConfig(flag: Flag, env: string): EnvConfig {
  const raw = (flag.environments[env] ?? {}) as Partial<EnvConfig>;
  return {
    enabled: raw.enabled ?? false,
    off_variation: raw.off_variation ?? null,
    targets: raw.targets ?? [],
    rules: raw.rules ?? [],
    fallthrough: raw.fallthrough ?? null,
    prerequisites: raw.prerequisites ?? [],
    bucket_by: raw.bucket_by ?? "user_id",
  };
}

export interface FlagFilters {
  q: string;
  tag: string;
  archived: boolean;
  offset: number;
  limit: number;
}

export function useFlags(filters: FlagFilters) {
  return useQuery({
    queryKey: ["flags", filters],
    queryFn: async () => {
      const body = await unwrap(
        api.GET("/api/v1/feature-flags", {
          params: {
            query: {
              q: filters.q || undefined,
              tag: filters.tag || undefined,
              archived: filters.archived,
              offset: filters.offset,
              limit: filters.limit,
            },
          },
        }),
      );
      const pagination = (body.meta as { pagination?: { total: number } }).pagination;
      return { flags: body.data, total: pagination?.total ?? body.data.length };
    },
    placeholderData: keepPreviousData,
  });
}

/** The stale-flag report (30 days), by flag key. */
export function useStaleFlags() {
  return useQuery({
    queryKey: ["flags", "stale"],
    queryFn: async () =>
      new Map((await unwrap(api.GET("/api/v1/feature-flags/reports/stale"))).data.map((f) => [f.key, f] as const)),
    staleTime: 5 * 60_000,
  });
}

/** Why the report lists a flag, for the stale badge's tooltip. */
export function staleReason(row: StaleFlag): string {
  const days = `unchanged for ${row.days_unchanged} days`;
  if (row.reason === "shipped" && row.shipped) {
    const { experiment, variant, environment } = row.shipped;
    return `${days} since experiment ${experiment} shipped ${variant} in ${environment}: serve it to everyone or take the flag out of the code`;
  }
  return `${days} and serving one variation to everyone: a candidate for removal from the code`;
}

export function useFlag(key: string) {
  return useQuery({
    queryKey: ["flag", key],
    queryFn: async () => (await unwrap(api.GET("/api/v1/feature-flags/{key}", { params: { path: { key } } }))).data,
  });
}

function useFlagMutation<T>(fn: (input: T) => Promise<Flag>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (flag) => {
      client.setQueryData(["flag", flag.key], flag);
      void client.invalidateQueries({ queryKey: ["flags"] });
      void client.invalidateQueries({ queryKey: ["audit"] });
    },
  });
}

export interface NewFlag {
  key: string;
  name: string;
  tags: string[];
  type: FlagType;
  /** none for a boolean: the server gives it `on` (true) and `off` (false) */
  variations?: Variation[];
}

/** `POST /api/v1/feature-flags`, with its type and variations. */
export function useCreateFlag() {
  return useFlagMutation(async (body: NewFlag) => (await unwrap(api.POST("/api/v1/feature-flags", { body }))).data);
}

/** `PUT /api/v1/feature-flags/{key}/client-visible`: whether client keys (browser SDKs) get this flag's
 * value (never its rules); versioned (409 when stale) and audited. */
export function useSetClientVisible(key: string) {
  return useFlagMutation(async ({ version, visible }: { version: number; visible: boolean }) =>
    (
      await unwrap(
        api.PUT("/api/v1/feature-flags/{key}/client-visible", { params: { path: { key } }, body: { client_visible: visible, version } }),
      )
    ).data,
  );
}

/** `PATCH /api/v1/feature-flags/{key}` with the whole list of variations (`version`: 409 when stale). */
export function useUpdateVariations(key: string) {
  return useFlagMutation(async ({ version, variations }: { version: number; variations: Variation[] }) =>
    (await unwrap(api.PATCH("/api/v1/feature-flags/{key}", { params: { path: { key } }, body: { version, variations } }))).data,
  );
}

export function useSaveEnvironment(key: string, env: string) {
  return useFlagMutation(async ({ version, config }: { version: number; config: EnvConfig }) =>
    (
      await unwrap(
        api.PUT("/api/v1/feature-flags/{key}/environments/{env}", {
          params: { path: { key, env } },
          // the engine validates conditions and serves; the schema types them as free-form objects
          body: { ...config, version } as never,
        }),
      )
    ).data,
  );
}

export function useSetEnabled(key: string, env: string) {
  return useFlagMutation(async ({ enabled, reason }: { enabled: boolean; reason?: string }) => {
    const params = { params: { path: { key, env } }, body: { reason: reason ?? null } };
    const call = enabled
      ? api.POST("/api/v1/feature-flags/{key}/environments/{env}/enable", params)
      : api.POST("/api/v1/feature-flags/{key}/environments/{env}/kill", params);
    return (await unwrap(call)).data;
  });
}

export function useArchiveFlag(key: string) {
  return useFlagMutation(async () =>
    (await unwrap(api.DELETE("/api/v1/feature-flags/{key}", { params: { path: { key } } }))).data,
  );
}

export interface ConditionTrace {
  attribute: string;
  operator: string;
  values: unknown[];
  negate: boolean;
  actual: unknown;
  held: boolean;
}
export interface Explanation {
  environment: string;
  result: { value: unknown; variation: string | null; reason: string; rule_id: string | null; rule_index: number | null; error_code: string | null; prerequisite_failed: string | null };
  enabled: boolean | null;
  prerequisites: { flag: string; variation: string; actual: string | null; met: boolean }[];
  target_matched: boolean;
  rules: { index: number; id: string; matched: boolean; serve: string; conditions: ConditionTrace[] }[];
  matched_rule: number | null;
}

export function useExplain(key: string, env: string) {
  return useMutation({
    mutationFn: async (body: { user_id: string; context: Record<string, unknown> }) =>
      (
        await unwrap(
          api.POST("/api/v1/feature-flags/{key}/environments/{env}/explain", {
            params: { path: { key, env } },
            body: body as never,
          }),
        )
      ).data as unknown as Explanation,
  });
}

export function useSchedules(key: string) {
  return useQuery({
    queryKey: ["flag", key, "schedules"],
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/feature-flags/{key}/rollout-schedules", { params: { path: { key } } }))).data,
  });
}

export function useScheduleMutations(key: string) {
  const client = useQueryClient();
  const done = () => {
    void client.invalidateQueries({ queryKey: ["flag", key] });
    void client.invalidateQueries({ queryKey: ["audit"] });
  };
  const create = useMutation({
    mutationFn: async (body: { environment: string; variation: string; steps: { at: string; percentage: number }[] }) =>
      (await unwrap(api.POST("/api/v1/feature-flags/{key}/rollout-schedules", { params: { path: { key } }, body }))).data,
    onSuccess: done,
  });
  const cancel = useMutation({
    mutationFn: async (id: string) =>
      (
        await unwrap(
          api.POST("/api/v1/feature-flags/{key}/rollout-schedules/{schedule_id}/cancel", {
            params: { path: { key, schedule_id: id } },
          }),
        )
      ).data,
    onSuccess: done,
  });
  return { create, cancel };
}
