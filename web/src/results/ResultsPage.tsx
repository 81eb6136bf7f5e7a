// Placeholder for the experiment's results route (`/experiments/<key>/results`): the Results page of
// issue #14 replaces this file. It links back to the experiment so the route is never a dead end.
import { Link, useParams } from "react-router-dom";
import { EmptyState, PageHeader } from "../ui";

export function ResultsPage() {
  const { key = "" } = useParams();
  return (
    <>
      <PageHeader title="Results">
        <span className="font-mono">{key}</span>
      </PageHeader>
      <EmptyState title="Results are not drawn here yet">
        The results of this experiment are served by <code>GET /api/v1/experiments/{key}/results</code>.{" "}
        <Link className="text-indigo-700 hover:underline" to={`/experiments/${key}`}>
          Back to the experiment
        </Link>
      </EmptyState>
    </>
  );
}
