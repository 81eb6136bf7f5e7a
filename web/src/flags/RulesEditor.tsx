import { DndContext, KeyboardSensor, PointerSensor, closestCenter, useSensor, useSensors, type DragEndEvent } from "@dnd-kit/core";
import { SortableContext, arrayMove, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { Button, Input } from "../ui";
import { ConditionBuilder } from "./ConditionBuilder";
import { ServeEditor } from "./ServeEditor";
import type { Rule } from "./api";

function newRuleId(rules: Rule[]): string {
  let n = rules.length + 1;
  while (rules.some((r) => r.id === `rule-${n}`)) n += 1;
  return `rule-${n}`;
}

function SortableRule({
  rule,
  index,
  count,
  children,
  onMove,
  disabled,
}: {
  rule: Rule;
  index: number;
  count: number;
  children: React.ReactNode;
  onMove: (from: number, to: number) => void;
  disabled: boolean;
}) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({ id: rule.id, disabled });
  return (
    <li
      ref={setNodeRef}
      data-rule={rule.id}
      className={`rounded-lg bg-white p-3 ring-1 ${isDragging ? "z-10 shadow-lg ring-indigo-400" : "ring-slate-200"}`}
      style={{ transform: CSS.Transform.toString(transform), transition }}
    >
      <div className="mb-2 flex items-center gap-2">
        {disabled ? null : (
          <button
            type="button"
            className="cursor-grab rounded px-1 text-slate-500 hover:text-slate-700"
            aria-label={`Drag rule ${index + 1} to reorder`}
            {...attributes}
            {...listeners}
          >
            ⠿
          </button>
        )}
        <span className="text-xs font-semibold uppercase text-slate-500">Rule {index + 1}</span>
        {disabled ? null : (
          <span className="ml-auto flex gap-1">
            <Button variant="ghost" aria-label={`Move rule ${index + 1} up`} disabled={index === 0} onClick={() => onMove(index, index - 1)}>
              ↑
            </Button>
            <Button
              variant="ghost"
              aria-label={`Move rule ${index + 1} down`}
              disabled={index === count - 1}
              onClick={() => onMove(index, index + 1)}
            >
              ↓
            </Button>
          </span>
        )}
      </div>
      {children}
    </li>
  );
}

/** Ordered rules: the first whose conditions all hold serves. Drag, or use the arrows, to reorder. */
export function RulesEditor({
  rules,
  onChange,
  variations,
  segments,
  errorAt,
  disabled,
  environment,
}: {
  rules: Rule[];
  onChange: (rules: Rule[]) => void;
  variations: string[];
  segments: string[];
  errorAt: (path: string) => string | undefined;
  disabled: boolean;
  /** the flag environment edited (a rule serving an experiment offers that environment's) */
  environment?: string;
}) {
  const sensors = useSensors(useSensor(PointerSensor), useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }));
  const move = (from: number, to: number) => onChange(arrayMove(rules, from, to));
  const onDragEnd = ({ active, over }: DragEndEvent) => {
    if (!over || active.id === over.id) return;
    move(
      rules.findIndex((r) => r.id === active.id),
      rules.findIndex((r) => r.id === over.id),
    );
  };
  const update = (index: number, rule: Rule) => onChange(rules.map((r, i) => (i === index ? rule : r)));
  return (
    <div className="space-y-2">
      <DndContext sensors={sensors} collisionDetection={closestCenter} onDragEnd={onDragEnd}>
        <SortableContext items={rules.map((r) => r.id)} strategy={verticalListSortingStrategy}>
          <ol className="space-y-2">
            {rules.map((rule, index) => (
              <SortableRule key={rule.id} rule={rule} index={index} count={rules.length} onMove={move} disabled={disabled}>
                <div className="space-y-3">
                  <ConditionBuilder
                    conditions={rule.conditions}
                    onChange={(conditions) => update(index, { ...rule, conditions })}
                    segments={segments}
                    errorAt={errorAt}
                    basePath={`rules[${index}].conditions`}
                    disabled={disabled}
                  />
                  <ServeEditor
                    label="Serve"
                    serve={rule.serve}
                    variations={variations}
                    error={
                      errorAt(`rules[${index}].serve`) ??
                      errorAt(`rules[${index}].serve.rollout.variations`) ??
                      errorAt(`rules[${index}].serve.experiment.key`) ??
                      errorAt(`rules[${index}].serve.experiment.variations`)
                    }
                    disabled={disabled}
                    environment={environment}
                    onChange={(serve) => update(index, { ...rule, serve })}
                  />
                  <div className="flex items-center justify-between gap-2">
                    <label className="flex items-center gap-1 text-xs text-slate-500">
                      id
                      <Input
                        className="w-36 font-mono text-xs"
                        aria-label={`Rule ${index + 1} id`}
                        value={rule.id}
                        disabled={disabled}
                        onChange={(e) => update(index, { ...rule, id: e.target.value })}
                      />
                    </label>
                    {disabled ? null : (
                      <Button variant="ghost" onClick={() => onChange(rules.filter((_, i) => i !== index))}>
                        Delete rule
                      </Button>
                    )}
                  </div>
                  {errorAt(`rules[${index}]`) ? (
                    <p role="alert" data-field-error className="text-xs text-red-700">
                      {errorAt(`rules[${index}]`)}
                    </p>
                  ) : null}
                </div>
              </SortableRule>
            ))}
          </ol>
        </SortableContext>
      </DndContext>
      {disabled ? null : (
        <Button
          onClick={() =>
            onChange([...rules, { id: newRuleId(rules), conditions: [{ attribute: "", operator: "eq", values: [] }], serve: { variation: variations[0] ?? "" } }])
          }
        >
          + Add rule
        </Button>
      )}
    </div>
  );
}
