import { PageHeader } from "../ui";
import { AuditTable } from "./AuditTable";

export function HistoryPage() {
  return (
    <>
      <PageHeader title="History">Every change, who made it, when and why — newest first.</PageHeader>
      <AuditTable />
    </>
  );
}
