import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export function useEnvironments() {
  return useQuery({
    queryKey: ["environments"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/environments"))).data,
    staleTime: 60_000,
  });
}
