import { useEffect, useState, type ReactNode } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router-dom";
import { onEnrolmentRequired } from "../api/client";
import { useCan, useSession } from "../auth/AuthProvider";
import { Button, EmptyState } from "../ui";

interface NavItem {
  to: string;
  label: string;
  permission: string;
}

/** Features add their pages here (experiments and metrics plug in the same way). */
export const NAV: { section: string; items: NavItem[] }[] = [
  {
    section: "Release",
    items: [
      { to: "/start", label: "Get started", permission: "flags:read" },
      { to: "/flags", label: "Flags", permission: "flags:read" },
      { to: "/segments", label: "Segments", permission: "segments:read" },
      { to: "/history", label: "History", permission: "audit:read" },
    ],
  },
  {
    section: "Experiment",
    items: [
      { to: "/experiments", label: "Experiments", permission: "experiments:read" },
      { to: "/metric-definitions", label: "Metrics", permission: "metrics:read" },
      { to: "/events", label: "Events", permission: "events:read" },
    ],
  },
  {
    section: "Administration",
    items: [
      { to: "/admin/environments", label: "Environments", permission: "environments:read" },
      { to: "/admin/people", label: "People", permission: "users:read" },
      { to: "/admin/keys", label: "API keys", permission: "keys:read" },
      { to: "/admin/webhooks", label: "Webhooks", permission: "webhooks:manage" },
    ],
  },
];

/** A page the person's role may not read (an address typed or bookmarked: the menu hides it): say so
 * instead of showing the page's request refused. */
export function Allowed({ permission, what, children }: { permission: string; what: string; children: ReactNode }) {
  const can = useCan();
  const { me } = useSession();
  if (can(permission)) return <>{children}</>;
  return (
    <EmptyState title={`The ${what} page is not available to your role`}>
      Your role ({me?.role ?? "unknown"}) cannot open this page. An admin can change roles under People.
    </EmptyState>
  );
}

function Nav({ onNavigate }: { onNavigate?: () => void }) {
  const can = useCan();
  return (
    <nav aria-label="Main" className="flex flex-col gap-5">
      {NAV.map(({ section, items }) => {
        const visible = items.filter((item) => can(item.permission));
        if (visible.length === 0) return null;
        return (
          <div key={section}>
            <h2 className="px-2 text-xs font-semibold uppercase tracking-wide text-slate-400">{section}</h2>
            <ul className="mt-1 space-y-0.5">
              {visible.map((item) => (
                <li key={item.to}>
                  <NavLink
                    to={item.to}
                    onClick={onNavigate}
                    className={({ isActive }) =>
                      `block rounded-md px-2 py-1.5 text-sm ${isActive ? "bg-slate-800 font-medium text-white" : "text-slate-300 hover:bg-slate-800 hover:text-white"}`
                    }
                  >
                    {item.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </div>
        );
      })}
    </nav>
  );
}

export function Layout() {
  const { me, signOut } = useSession();
  const [menu, setMenu] = useState(false);
  const navigate = useNavigate();
  // the server refuses everything but enrolment to an account that must turn MFA on: go there
  useEffect(() => onEnrolmentRequired(() => navigate("/account/security")), [navigate]);
  return (
    <div className="min-h-screen lg:flex">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:bg-white focus:p-2">
        Skip to content
      </a>
      <aside className="bg-slate-900 text-white lg:fixed lg:inset-y-0 lg:flex lg:w-56 lg:flex-col">
        <div className="flex items-center justify-between px-4 py-3">
          <span className="flex items-center gap-2 font-semibold">
            <img src="/favicon.svg" alt="" className="h-6 w-6" /> Experimently
          </span>
          <button
            type="button"
            className="rounded p-1 text-slate-300 hover:text-white lg:hidden"
            aria-expanded={menu}
            aria-controls="main-nav"
            onClick={() => setMenu(!menu)}
          >
            Menu
          </button>
        </div>
        <div id="main-nav" className={`${menu ? "block" : "hidden"} px-2 pb-4 lg:block lg:flex-1`}>
          <Nav onNavigate={() => setMenu(false)} />
        </div>
        <div className={`${menu ? "block" : "hidden"} border-t border-slate-800 p-3 text-xs text-slate-300 lg:block`}>
          <div className="truncate" title={me?.label}>
            {me?.label}
          </div>
          <div className="mb-2 text-slate-400">{me?.role}</div>
          <Link
            to="/account/security"
            onClick={() => setMenu(false)}
            className="mb-2 block rounded-md px-2 py-1.5 text-sm text-slate-300 hover:bg-slate-800 hover:text-white"
          >
            Account security
          </Link>
          <Button variant="secondary" className="w-full" onClick={() => void signOut()}>
            Sign out
          </Button>
        </div>
      </aside>
      <main id="main" className="min-w-0 flex-1 p-4 sm:p-6 lg:ml-56">
        <Outlet />
      </main>
    </div>
  );
}
