import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, endSession, hasAccessToken, onSessionChange, refreshSession, signIn, signInMfa, signOut, unwrap } from "../api/client";
import type { Permissions } from "../api/types";

type Status = "starting" | "signedOut" | "signedIn";

interface Session {
  status: Status;
  me: Permissions | undefined;
  signIn: (email: string, password: string) => Promise<void>;
  signInMfa: (mfaToken: string, code: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** The server ended the session (a password change): show the sign-in page with this notice (and
   * the person's email filled in). */
  sessionEnded: (notice: string, email?: string) => void;
  /** What the sign-in page says first, until the next sign-in (why the person was signed out). */
  notice: { text: string; email: string } | null;
}

const SessionContext = createContext<Session | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status>("starting");
  const [notice, setNotice] = useState<{ text: string; email: string } | null>(null);

  useEffect(() => {
    const off = onSessionChange((signedIn) => setStatus(signedIn ? "signedIn" : "signedOut"));
    // a reload forgets the access token: the refresh cookie (if any) gets a new one
    if (!hasAccessToken()) void refreshSession().then((ok) => setStatus(ok ? "signedIn" : "signedOut"));
    return () => {
      off();
    };
  }, []);

  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/auth/permissions"))).data,
    enabled: status === "signedIn",
    staleTime: 60_000,
  });

  const value = useMemo<Session>(
    () => ({
      status,
      me: me.data,
      notice,
      signIn: async (email, password) => {
        await signIn(email, password);
        setNotice(null);
        await queryClient.invalidateQueries();
      },
      signInMfa: async (mfaToken, code) => {
        await signInMfa(mfaToken, code);
        setNotice(null);
        await queryClient.invalidateQueries();
      },
      signOut: async () => {
        await signOut();
        setNotice(null);
        queryClient.clear();
      },
      sessionEnded: (text, email = "") => {
        setNotice({ text, email });
        endSession();
        queryClient.clear();
      },
    }),
    [status, me.data, notice, queryClient],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside AuthProvider");
  return session;
}

/** `can("flags:write", flag.owner_id)`: hide or disable what the person may not do (the API enforces). */
export function useCan(): (permission: string, ownerId?: string | null) => boolean {
  const { me } = useSession();
  return (permission, ownerId) => {
    if (!me || !me.permissions.includes(permission)) return false;
    if (ownerId !== undefined && ownerId !== null && me.owned_only.includes(permission)) return ownerId === me.id;
    return true;
  };
}
