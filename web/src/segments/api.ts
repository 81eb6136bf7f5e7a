import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { Condition } from "../flags/operators";

export function useSegments() {
  return useQuery({
    queryKey: ["segments"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/segments"))).data,
    staleTime: 30_000,
  });
}

export function useSegment(key: string) {
  return useQuery({
    queryKey: ["segment", key],
    queryFn: async () => (await unwrap(api.GET("/api/v1/segments/{key}", { params: { path: { key } } }))).data,
  });
}

export function useSegmentMutations() {
  const client = useQueryClient();
  const done = () => {
    void client.invalidateQueries({ queryKey: ["segments"] });
    void client.invalidateQueries({ queryKey: ["segment"] });
    void client.invalidateQueries({ queryKey: ["audit"] });
  };
  const create = useMutation({
    mutationFn: async (body: { key: string; name: string; description?: string; conditions: Condition[] }) =>
      (await unwrap(api.POST("/api/v1/segments", { body: body as never }))).data,
    onSuccess: done,
  });
  const update = useMutation({
    mutationFn: async ({ key, ...body }: { key: string; version: number; name?: string; description?: string; conditions?: Condition[] }) =>
      (await unwrap(api.PATCH("/api/v1/segments/{key}", { params: { path: { key } }, body: body as never }))).data,
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: async (key: string) => {
      await unwrap(api.DELETE("/api/v1/segments/{key}", { params: { path: { key } } }));
    },
    onSuccess: done,
  });
  return { create, update, remove };
}
