import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export function useEnvironments({ enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: ["environments"],
    enabled,
    queryFn: async () => (await unwrap(api.GET("/api/v1/environments"))).data,
    staleTime: 60_000,
  });
}
