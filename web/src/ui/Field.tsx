import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";

export const inputClass =
  "block rounded-md bg-white border-0 px-2.5 py-1.5 text-sm text-slate-900 ring-1 ring-inset ring-slate-300 placeholder:text-slate-500 focus:ring-2 focus:ring-inset focus:ring-indigo-600 disabled:bg-slate-50 disabled:text-slate-500";

/** A labelled control with its error (from the server's 422, at the field it names). */
export function Field({
  label,
  error,
  hint,
  children,
  className = "",
}: {
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
  className?: string;
}) {
  const id = useId();
  const described = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className="mb-1 block text-xs font-medium text-slate-700">
        {label}
      </label>
      {children({ id, "aria-invalid": Boolean(error), ...(described ? { "aria-describedby": described } : {}) })}
      {error ? (
        <p id={`${id}-error`} role="alert" data-field-error className="mt-1 text-xs text-red-700">
          {error}
        </p>
      ) : hint ? (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** Full width unless the caller sets a width (two width utilities would fight over CSS order). */
function width(className: string): string {
  return /(^|\s)(w-|max-w-|flex-1)/.test(className) ? "min-w-0" : "w-full";
}

export function Input({ className = "", ...props }: InputHTMLAttributes<HTMLInputElement>) {
  const invalid = props["aria-invalid"] === true || props["aria-invalid"] === "true";
  return <input className={`${inputClass} ${width(className)} ${invalid ? "ring-red-500" : ""} ${className}`} {...props} />;
}

/** A percentage (0 to 100); an emptied box is NaN, so the step's check can say it is missing. */
export function PercentInput({
  value,
  onValue,
  step = "any",
  ...props
}: Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange" | "type" | "min" | "max"> & { value: number; onValue: (value: number) => void }) {
  return (
    <Input
      {...props}
      type="number"
      min={0}
      max={100}
      step={step}
      value={Number.isFinite(value) ? value : ""}
      onChange={(e) => onValue(e.target.value === "" ? NaN : Number(e.target.value))}
    />
  );
}

export function Select({ className = "", ...props }: SelectHTMLAttributes<HTMLSelectElement>) {
  return <select className={`${inputClass} ${width(className)} pr-8 ${className}`} {...props} />;
}

export function TextArea({ className = "", ...props }: TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return <textarea className={`${inputClass} ${width(className)} ${className}`} {...props} />;
}
