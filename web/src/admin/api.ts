import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { Scope } from "./scopes";

function useInvalidate(...keys: string[]) {
  const client = useQueryClient();
  return () => keys.forEach((key) => void client.invalidateQueries({ queryKey: [key] }));
}

export function useUsers({ enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({ queryKey: ["users"], enabled, queryFn: async () => (await unwrap(api.GET("/api/v1/users"))).data });
}

export function useUserMutations() {
  const done = useInvalidate("users", "audit");
  return {
    create: useMutation({
      mutationFn: async (body: { email: string; role: "admin" | "developer" | "analyst" | "viewer" }) =>
        (await unwrap(api.POST("/api/v1/users", { body }))).data,
      onSuccess: done,
    }),
    update: useMutation({
      mutationFn: async ({ id, ...body }: { id: string; role?: "admin" | "developer" | "analyst" | "viewer"; is_active?: boolean }) =>
        (await unwrap(api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: id } }, body }))).data,
      onSuccess: done,
    }),
    reset: useMutation({
      mutationFn: async (id: string) =>
        (await unwrap(api.POST("/api/v1/users/{user_id}/reset-password", { params: { path: { user_id: id } } }))).data,
      onSuccess: done,
    }),
    // two-step verification off for a person who lost their device; the server ends their sessions (204)
    resetMfa: useMutation({
      mutationFn: async (id: string) => {
        await unwrap(api.POST("/api/v1/users/{user_id}/mfa/reset", { params: { path: { user_id: id } } }));
      },
      onSuccess: done,
    }),
  };
}

export function useKeys({ enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({ queryKey: ["keys"], enabled, queryFn: async () => (await unwrap(api.GET("/api/v1/api-keys"))).data });
}

export function useKeyMutations() {
  const done = useInvalidate("keys", "audit");
  return {
    create: useMutation({
      mutationFn: async (body: { name: string; environment: string; scopes: Scope[] }) =>
        (await unwrap(api.POST("/api/v1/api-keys", { body }))).data,
      onSuccess: done,
    }),
    revoke: useMutation({
      mutationFn: async (id: string) =>
        (await unwrap(api.POST("/api/v1/api-keys/{key_id}/revoke", { params: { path: { key_id: id } } }))).data,
      onSuccess: done,
    }),
  };
}

export function useEnvironmentMutations() {
  const done = useInvalidate("environments", "audit");
  return {
    create: useMutation({
      mutationFn: async (body: { key: string; name: string; is_production: boolean }) =>
        (await unwrap(api.POST("/api/v1/environments", { body }))).data,
      onSuccess: done,
    }),
  };
}

export function useWebhooks({ enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({ queryKey: ["webhooks"], enabled, queryFn: async () => (await unwrap(api.GET("/api/v1/webhooks"))).data });
}

export function useDeliveries(id: string | null) {
  return useQuery({
    queryKey: ["webhooks", id, "deliveries"],
    enabled: id !== null,
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: id ?? "" } } }))).data,
    refetchInterval: 5000,
  });
}

export function useWebhookMutations() {
  const done = useInvalidate("webhooks", "audit");
  return {
    create: useMutation({
      mutationFn: async (body: { url: string; description?: string; event_types: string[] }) =>
        (await unwrap(api.POST("/api/v1/webhooks", { body }))).data,
      onSuccess: done,
    }),
    remove: useMutation({
      mutationFn: async (id: string) =>
        (await unwrap(api.DELETE("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: id } } }))).data,
      onSuccess: done,
    }),
    ping: useMutation({
      mutationFn: async (id: string) =>
        (await unwrap(api.POST("/api/v1/webhooks/{webhook_id}/ping", { params: { path: { webhook_id: id } } }))).data,
      onSuccess: done,
    }),
    retry: useMutation({
      mutationFn: async ({ id, delivery }: { id: string; delivery: string }) =>
        (
          await unwrap(
            api.POST("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", {
              params: { path: { webhook_id: id, delivery_id: delivery } },
            }),
          )
        ).data,
      onSuccess: done,
    }),
  };
}
