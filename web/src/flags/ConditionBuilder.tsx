import { useEffect, useState } from "react";
import { Button, Input, Select } from "../ui";
import {
  blankCondition,
  changeOperator,
  editorFor,
  OPERATOR_BY_VALUE,
  OPERATORS,
  parseScalar,
  scalarTypeOf,
  splitList,
  toIso,
  toLocalInput,
  valueProblem,
  type Condition,
  type ConditionValue,
  type ScalarType,
} from "./operators";

const GROUPS = [...new Set(OPERATORS.map((o) => o.group))];

/** A comma-separated list that keeps what is typed until it parses to something else. */
function ListInput({
  values,
  onChange,
  parse,
  label,
  placeholder,
  invalid,
  disabled,
}: {
  values: ConditionValue[];
  onChange: (values: ConditionValue[]) => void;
  parse: (token: string) => ConditionValue;
  label: string;
  placeholder: string;
  invalid: boolean;
  disabled: boolean;
}) {
  const joined = values.map(String).join(", ");
  const [raw, setRaw] = useState(joined);
  useEffect(() => {
    if (splitList(raw).map(parse).map(String).join(", ") !== joined) setRaw(joined);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only an outside change resets the text
  }, [joined]);
  return (
    <Input
      aria-label={label}
      aria-invalid={invalid}
      placeholder={placeholder}
      value={raw}
      disabled={disabled}
      onChange={(e) => {
        setRaw(e.target.value);
        onChange(splitList(e.target.value).map(parse));
      }}
    />
  );
}

function ValuesEditor({
  condition,
  onChange,
  segments,
  label,
  invalid,
  disabled,
}: {
  condition: Condition;
  onChange: (values: ConditionValue[]) => void;
  segments: string[];
  label: string;
  invalid: boolean;
  disabled: boolean;
}) {
  const editor = editorFor(condition.operator);
  const first = condition.values[0];
  const [scalarType, setScalarType] = useState<ScalarType>(scalarTypeOf(condition.values));
  const common = { "aria-label": label, "aria-invalid": invalid, disabled };
  switch (editor) {
    case "none":
      return <span className="py-1.5 text-xs text-slate-500">no value needed</span>;
    case "number":
      return (
        <Input
          {...common}
          type="number"
          step="any"
          value={first === undefined ? "" : String(first)}
          onChange={(e) => onChange(e.target.value === "" ? [] : [Number(e.target.value)])}
        />
      );
    case "version":
    case "pattern":
      return (
        <Input
          {...common}
          placeholder={editor === "version" ? "2.1.0" : "^.*@example\\.com$"}
          className="font-mono"
          value={first === undefined ? "" : String(first)}
          onChange={(e) => onChange(e.target.value === "" ? [] : [e.target.value])}
        />
      );
    case "date":
      return (
        <Input
          {...common}
          type="datetime-local"
          value={first === undefined ? "" : toLocalInput(String(first))}
          onChange={(e) => onChange(e.target.value === "" ? [] : [toIso(e.target.value)])}
        />
      );
    case "segments":
      return (
        <Select
          {...common}
          multiple
          size={Math.min(4, Math.max(2, segments.length))}
          value={condition.values.map(String)}
          onChange={(e) => onChange([...e.target.selectedOptions].map((o) => o.value))}
        >
          {segments.length === 0 ? <option disabled>no segments yet</option> : null}
          {segments.map((key) => (
            <option key={key} value={key}>
              {key}
            </option>
          ))}
        </Select>
      );
    case "cidrs":
    case "texts":
      return (
        <ListInput
          label={label}
          invalid={invalid}
          disabled={disabled}
          values={condition.values}
          onChange={onChange}
          parse={(t) => t}
          placeholder={editor === "cidrs" ? "10.0.0.0/8, 2001:db8::/32" : "comma-separated"}
        />
      );
    default:
      return (
        <div className="flex min-w-0 gap-1">
          <div className="min-w-0 flex-1">
            <ListInput
            label={label}
            invalid={invalid}
            disabled={disabled}
            values={condition.values}
            onChange={onChange}
            parse={(t) => parseScalar(t, scalarType)}
            placeholder="comma-separated"
            />
          </div>
          <Select
            aria-label={`${label}: value type`}
            className="w-24 shrink-0"
            disabled={disabled}
            value={scalarType}
            onChange={(e) => {
              const type = e.target.value as ScalarType;
              setScalarType(type);
              onChange(condition.values.map((v) => parseScalar(String(v), type)));
            }}
          >
            <option value="text">text</option>
            <option value="number">number</option>
            <option value="boolean">boolean</option>
          </Select>
        </div>
      );
  }
}

/** Every condition must hold (AND). `errorAt(path)` returns the server's message for a relative path. */
export function ConditionBuilder({
  conditions,
  onChange,
  segments,
  errorAt,
  basePath,
  disabled = false,
  emptyText = "No conditions: the rule matches everyone.",
}: {
  emptyText?: string;
  conditions: Condition[];
  onChange: (conditions: Condition[]) => void;
  segments: string[];
  errorAt: (path: string) => string | undefined;
  basePath: string;
  disabled?: boolean;
}) {
  const update = (index: number, next: Condition) => onChange(conditions.map((c, i) => (i === index ? next : c)));
  return (
    <div className="space-y-2">
      {conditions.length === 0 ? <p className="text-xs text-slate-500">{emptyText}</p> : null}
      {conditions.map((condition, index) => {
        const path = `${basePath}[${index}]`;
        const info = OPERATOR_BY_VALUE.get(condition.operator);
        const local = valueProblem(condition);
        const serverError = errorAt(`${path}.values`) ?? errorAt(path) ?? errorAt(`${path}.operator`);
        const attributeError = errorAt(`${path}.attribute`);
        const n = index + 1;
        return (
          <div key={index} data-condition={index} className="rounded-md bg-slate-50 p-2 ring-1 ring-slate-200">
            <div className="grid grid-cols-1 gap-2 sm:grid-cols-[minmax(8rem,1fr)_minmax(9rem,auto)_minmax(10rem,2fr)_auto]">
              {info?.editor === "segments" ? (
                <span className="py-1.5 text-xs text-slate-500">user</span>
              ) : (
                <Input
                  aria-label={`Condition ${n} attribute`}
                  aria-invalid={Boolean(attributeError)}
                  placeholder="attribute, e.g. country"
                  className="font-mono"
                  value={condition.attribute}
                  disabled={disabled}
                  onChange={(e) => update(index, { ...condition, attribute: e.target.value })}
                />
              )}
              <Select
                aria-label={`Condition ${n} operator`}
                value={condition.operator}
                disabled={disabled}
                onChange={(e) => update(index, changeOperator(condition, e.target.value))}
              >
                {GROUPS.map((group) => (
                  <optgroup key={group} label={group}>
                    {OPERATORS.filter((o) => o.group === group).map((o) => (
                      <option key={o.value} value={o.value}>
                        {o.label}
                      </option>
                    ))}
                  </optgroup>
                ))}
              </Select>
              <ValuesEditor
                key={condition.operator}
                condition={condition}
                segments={segments}
                label={`Condition ${n} values`}
                invalid={Boolean(serverError)}
                disabled={disabled}
                onChange={(values) => update(index, { ...condition, values })}
              />
              <Button
                variant="ghost"
                aria-label={`Remove condition ${n}`}
                disabled={disabled}
                onClick={() => onChange(conditions.filter((_, i) => i !== index))}
              >
                ✕
              </Button>
            </div>
            <div className="mt-1 flex flex-wrap items-center gap-3 text-xs text-slate-600">
              <label className="inline-flex items-center gap-1">
                <input
                  type="checkbox"
                  checked={Boolean(condition.negate)}
                  disabled={disabled}
                  onChange={(e) => update(index, { ...condition, negate: e.target.checked || undefined })}
                />
                negate
              </label>
              {info?.caseInsensitive ? (
                <label className="inline-flex items-center gap-1">
                  <input
                    type="checkbox"
                    checked={Boolean(condition.case_insensitive)}
                    disabled={disabled}
                    onChange={(e) => update(index, { ...condition, case_insensitive: e.target.checked || undefined })}
                  />
                  ignore case
                </label>
              ) : null}
              {attributeError ? <span role="alert" data-field-error className="text-red-700">attribute: {attributeError}</span> : null}
              {serverError ? (
                <span role="alert" data-field-error className="text-red-700">{serverError}</span>
              ) : local ? (
                <span className="text-amber-700">{local}</span>
              ) : null}
            </div>
          </div>
        );
      })}
      {disabled ? null : (
        <Button variant="ghost" onClick={() => onChange([...conditions, blankCondition()])}>
          + Add condition
        </Button>
      )}
    </div>
  );
}
