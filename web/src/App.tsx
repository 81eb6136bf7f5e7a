import { lazy, Suspense } from "react";
import { createBrowserRouter, Navigate, Route, RouterProvider, Routes } from "react-router-dom";
import { AuthProvider, useSession } from "./auth/AuthProvider";
import { SignInPage } from "./auth/SignInPage";
import { FlagsPage } from "./flags/FlagsPage";
import { Allowed, Layout } from "./shell/Layout";
import { EmptyState, Spinner } from "./ui";

// pages past the first screen load on demand: the first paint ships the shell and the flags list
const FlagPage = lazy(() => import("./flags/FlagPage").then((m) => ({ default: m.FlagPage })));
const SegmentsPage = lazy(() => import("./segments/SegmentsPage").then((m) => ({ default: m.SegmentsPage })));
const SegmentPage = lazy(() => import("./segments/SegmentPage").then((m) => ({ default: m.SegmentPage })));
const HistoryPage = lazy(() => import("./history/HistoryPage").then((m) => ({ default: m.HistoryPage })));
const EnvironmentsPage = lazy(() => import("./admin/EnvironmentsPage").then((m) => ({ default: m.EnvironmentsPage })));
const SafetySettingsPage = lazy(() => import("./admin/SafetySettingsPage").then((m) => ({ default: m.SafetySettingsPage })));
const PeoplePage = lazy(() => import("./admin/PeoplePage").then((m) => ({ default: m.PeoplePage })));
const KeysPage = lazy(() => import("./admin/KeysPage").then((m) => ({ default: m.KeysPage })));
const WebhooksPage = lazy(() => import("./admin/WebhooksPage").then((m) => ({ default: m.WebhooksPage })));
const SecurityPage = lazy(() => import("./account/SecurityPage").then((m) => ({ default: m.SecurityPage })));
const ExperimentsPage = lazy(() => import("./experiments/ExperimentsPage").then((m) => ({ default: m.ExperimentsPage })));
const NewExperimentPage = lazy(() => import("./experiments/NewExperimentPage").then((m) => ({ default: m.NewExperimentPage })));
const ExperimentPage = lazy(() => import("./experiments/ExperimentPage").then((m) => ({ default: m.ExperimentPage })));
const ResultsPage = lazy(() => import("./results/ResultsPage").then((m) => ({ default: m.ResultsPage })));
const MetricsPage = lazy(() => import("./metrics/MetricsPage").then((m) => ({ default: m.MetricsPage })));
const MetricEditorPage = lazy(() => import("./metrics/MetricEditorPage").then((m) => ({ default: m.MetricEditorPage })));
const EventsPage = lazy(() => import("./events/EventsPage").then((m) => ({ default: m.EventsPage })));
const StartPage = lazy(() => import("./start/StartPage").then((m) => ({ default: m.StartPage })));

function Routed() {
  const { status } = useSession();
  if (status === "starting") return <Spinner label="Starting" />;
  if (status === "signedOut") return <SignInPage />;
  return (
    <Suspense fallback={<Spinner />}>
      <Routes>
        <Route element={<Layout />}>
          <Route index element={<Navigate to="/flags" replace />} />
          <Route path="start" element={<StartPage />} />
          <Route path="flags" element={<FlagsPage />} />
          <Route path="flags/:key" element={<FlagPage />} />
          <Route path="segments" element={<Allowed permission="segments:read" what="segments"><SegmentsPage /></Allowed>} />
          <Route path="segments/:key" element={<Allowed permission="segments:read" what="segments"><SegmentPage /></Allowed>} />
          <Route path="history" element={<Allowed permission="audit:read" what="history"><HistoryPage /></Allowed>} />
          <Route path="experiments" element={<ExperimentsPage />} />
          <Route path="experiments/new" element={<Allowed permission="experiments:write" what="new experiment"><NewExperimentPage /></Allowed>} />
          <Route path="experiments/:key" element={<ExperimentPage />} />
          <Route path="experiments/:key/results" element={<ResultsPage />} />
          <Route path="metric-definitions" element={<MetricsPage />} />
          <Route path="metric-definitions/new" element={<Allowed permission="metrics:write" what="new metric"><MetricEditorPage key="new" /></Allowed>} />
          <Route path="metric-definitions/:key" element={<MetricEditorPage />} />
          <Route path="events" element={<Allowed permission="events:read" what="events"><EventsPage /></Allowed>} />
          <Route path="admin/environments" element={<Allowed permission="environments:read" what="environments"><EnvironmentsPage /></Allowed>} />
          <Route path="admin/environments/:key/safety" element={<SafetySettingsPage />} />
          <Route path="admin/people" element={<Allowed permission="users:read" what="people"><PeoplePage /></Allowed>} />
          <Route path="admin/keys" element={<Allowed permission="keys:read" what="API keys"><KeysPage /></Allowed>} />
          <Route path="admin/webhooks" element={<Allowed permission="webhooks:manage" what="webhooks"><WebhooksPage /></Allowed>} />
          <Route path="account/security" element={<SecurityPage />} />
          <Route path="*" element={<EmptyState title="No such page">The address does not match a page of the console.</EmptyState>} />
        </Route>
      </Routes>
    </Suspense>
  );
}

// a data router (one splat route around the console's own <Routes>), so a page can hold a navigation
// back with useBlocker: the experiment wizard asks before its unsaved input is lost
const router = createBrowserRouter([
  {
    path: "*",
    element: (
      <AuthProvider>
        <Routed />
      </AuthProvider>
    ),
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
