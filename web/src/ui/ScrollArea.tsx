import { useEffect, useRef, useState, type ReactNode } from "react";

/** A region that scrolls sideways (a wide table on a phone) and shows that it does: a line saying what
 * lies off-screen, and a fade at each edge that has more beyond it. Focusable, so a keyboard scrolls it.
 * The scrolling box is positioned, so what is absolutely placed inside (a visually hidden label) stays in
 * it instead of widening the page. `frame` styles the box around it (a card's ring and background). */
export function ScrollArea({ label, hint, children, frame = "" }: { label: string; hint: string; children: ReactNode; frame?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [edges, setEdges] = useState({ overflow: false, left: false, right: false });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const update = () => {
      const overflow = el.scrollWidth > el.clientWidth + 1;
      const next = { overflow, left: overflow && el.scrollLeft > 1, right: overflow && el.scrollLeft + el.clientWidth < el.scrollWidth - 1 };
      setEdges((now) => (now.overflow === next.overflow && now.left === next.left && now.right === next.right ? now : next));
    };
    update();
    el.addEventListener("scroll", update, { passive: true });
    const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(update);
    observer?.observe(el);
    if (el.firstElementChild) observer?.observe(el.firstElementChild);
    return () => {
      el.removeEventListener("scroll", update);
      observer?.disconnect();
    };
  }, []);
  return (
    <div data-scroll-area data-overflow={edges.overflow ? (edges.right ? "right" : "left") : "none"}>
      {edges.overflow ? (
        <p className="mb-1 text-xs text-slate-600" data-testid="scroll-hint">
          {edges.right ? `${hint} →` : "← scroll back for the first columns"}
        </p>
      ) : null}
      <div className={`relative ${frame}`}>
        <div ref={ref} className="relative overflow-x-auto" tabIndex={0} role="region" aria-label={label}>
          {children}
        </div>
        <div aria-hidden className={`pointer-events-none absolute inset-y-0 left-0 w-6 bg-gradient-to-r from-white to-transparent transition-opacity ${edges.left ? "opacity-100" : "opacity-0"}`} />
        <div aria-hidden className={`pointer-events-none absolute inset-y-0 right-0 w-10 bg-gradient-to-l from-white to-transparent transition-opacity ${edges.right ? "opacity-100" : "opacity-0"}`} />
      </div>
    </div>
  );
}
