import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";

export type Experiment = components["schemas"]["ExperimentRead"];
export type Shipped = components["schemas"]["Shipped"];
export type Status = Experiment["status"];

/** The lifecycle of src/experimently/experiments/lifecycle.py: which action leaves which state. */
export const STATUSES: Status[] = ["draft", "scheduled", "running", "paused", "completed", "archived"];

export type Action = "schedule" | "unschedule" | "start" | "pause" | "resume" | "complete" | "archive";

export const ACTIONS: Record<Action, { from: Status[]; label: string; verb: string; tone: "primary" | "secondary" | "danger"; explain: string }> = {
  start: { from: ["draft", "scheduled"], label: "Start", verb: "Start now", tone: "primary", explain: "Users start being assigned to variants now." },
  schedule: { from: ["draft"], label: "Schedule", verb: "Schedule", tone: "secondary", explain: "The experiment starts by itself at its planned start." },
  unschedule: { from: ["scheduled"], label: "Unschedule", verb: "Back to draft", tone: "secondary", explain: "The planned start no longer starts it; it goes back to draft." },
  pause: { from: ["running"], label: "Pause", verb: "Pause", tone: "secondary", explain: "No new assignments: everyone gets the control's experience until it resumes; assignments are kept." },
  resume: { from: ["paused"], label: "Resume", verb: "Resume", tone: "primary", explain: "Assignment starts again, with the same variants for the same users." },
  complete: { from: ["running", "paused"], label: "Stop", verb: "Stop the experiment", tone: "danger", explain: "The experiment ends for good (completed): no more assignments, the results stay. A flag rule that serves this experiment stops matching: its users fall through to the flag's next rule. To keep the winning variant, use Ship a variant instead: it stops the experiment and makes those rules serve the variant." },
  archive: { from: ["draft", "completed"], label: "Archive", verb: "Archive", tone: "secondary", explain: "Hidden from the default lists; kept for the record." },
};

export function actionsFor(status: Status): Action[] {
  return (Object.keys(ACTIONS) as Action[]).filter((a) => ACTIONS[a].from.includes(status));
}

export const STATUS_TONE: Record<Status, "gray" | "green" | "amber" | "indigo" | "red"> = {
  draft: "gray",
  scheduled: "indigo",
  running: "green",
  paused: "amber",
  completed: "indigo",
  archived: "gray",
};

export function useExperiments(filters: { status: Status | ""; q: string; offset: number; limit: number }) {
  return useQuery({
    queryKey: ["experiments", filters],
    queryFn: async () => {
      const body = await unwrap(
        api.GET("/api/v1/experiments", {
          params: { query: { status: filters.status || undefined, q: filters.q || undefined, offset: filters.offset, limit: filters.limit } },
        }),
      );
      const pagination = (body.meta as { pagination?: { total: number } }).pagination;
      return { experiments: body.data, total: pagination?.total ?? body.data.length };
    },
    placeholderData: keepPreviousData,
  });
}

export function useExperiment(key: string) {
  return useQuery({
    queryKey: ["experiment", key],
    queryFn: async () => (await unwrap(api.GET("/api/v1/experiments/{ref}", { params: { path: { ref: key } } }))).data,
  });
}

export function useLayers() {
  return useQuery({
    queryKey: ["layers"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/layers"))).data,
    staleTime: 30_000,
  });
}

export function useCreateExperiment() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: Record<string, unknown>) => (await unwrap(api.POST("/api/v1/experiments", { body: body as never }))).data,
    onSuccess: (experiment) => {
      client.setQueryData(["experiment", experiment.key], experiment);
      void client.invalidateQueries({ queryKey: ["experiments"] });
    },
  });
}

/** `PATCH /api/v1/experiments/{ref}`: `version` and the changed fields (409 when the version is stale). */
export function useUpdateExperiment(key: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: Record<string, unknown>) =>
      (await unwrap(api.PATCH("/api/v1/experiments/{ref}", { params: { path: { ref: key } }, body: body as never }))).data,
    onSuccess: (experiment) => {
      client.setQueryData(["experiment", key], experiment);
      void client.invalidateQueries({ queryKey: ["experiments"] });
      void client.invalidateQueries({ queryKey: ["audit"] });
    },
  });
}

export function useTransition(key: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ action, reason }: { action: Action; reason: string }) =>
      (
        await unwrap(
          api.POST("/api/v1/experiments/{ref}/{action}", {
            params: { path: { ref: key, action } },
            body: { reason: reason || null },
          }),
        )
      ).data,
    onSuccess: (experiment) => {
      client.setQueryData(["experiment", key], experiment);
      void client.invalidateQueries({ queryKey: ["experiments"] });
      void client.invalidateQueries({ queryKey: ["audit"] });
    },
  });
}

/** Which statuses can ship a variant (`POST /experiments/{ref}/ship`): running and paused ones are
 * completed by it; a completed one ships once. */
export function canShip(experiment: Experiment): boolean {
  return ["running", "paused", "completed"].includes(experiment.status) && !experiment.shipped;
}

/** `POST /experiments/{ref}/ship`; `dryRun` answers what would change and changes nothing (the preview
 * the dialog shows runs the same checks as the real request). */
export function useShip(key: string, dryRun: boolean) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ variant, reason }: { variant: string; reason: string }) =>
      (
        await unwrap(
          api.POST("/api/v1/experiments/{ref}/ship", {
            params: { path: { ref: key } },
            body: { variant, reason, dry_run: dryRun },
          }),
        )
      ).data,
    onSuccess: (experiment) => {
      if (dryRun) return;
      client.setQueryData(["experiment", key], experiment);
      void client.invalidateQueries({ queryKey: ["experiments"] });
      void client.invalidateQueries({ queryKey: ["audit"] });
      void client.invalidateQueries({ queryKey: ["flags"] });
      void client.invalidateQueries({ queryKey: ["flag"] });
    },
  });
}

export function useUpdateSchedule(key: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: { version: number; planned_start?: string | null; planned_end?: string | null }) =>
      (await unwrap(api.PATCH("/api/v1/experiments/{ref}", { params: { path: { ref: key } }, body: body as never }))).data,
    onSuccess: (experiment) => {
      client.setQueryData(["experiment", key], experiment);
      void client.invalidateQueries({ queryKey: ["experiments"] });
    },
  });
}

export interface PowerAnswer {
  kind: string;
  baseline_mean: number;
  sample_size?: { units_per_arm: number | null; total_units: number | null; messages?: string[]; explanation?: string };
  days_to_sample?: { days: number | null; messages?: string[] };
}

export type PowerRequest = components["schemas"]["PowerRequest"];

export function usePower() {
  return useMutation({
    mutationFn: async (body: PowerRequest) => (await unwrap(api.POST("/api/v1/analysis/power", { body }))).data as unknown as PowerAnswer,
  });
}
