// The console's one chart library is uPlot (about 20 KB gzipped, canvas-drawn, zoom and hover
// legends built in): small enough to load with the page and fast with thousands of points.
// This wrapper owns the uPlot instance: it creates it on mount, resizes it with its container,
// replaces the data when it changes and destroys it on unmount. Pages build their options.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type ChartOptions = Omit<uPlot.Options, "width" | "height">;

export function Chart({
  options,
  data,
  height = 240,
  label,
}: {
  options: ChartOptions;
  data: uPlot.AlignedData;
  height?: number;
  /** what the chart shows, for screen readers (the canvas itself says nothing) */
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  // a new instance when the options change (series, scales, axes); data alone is swapped in place
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const chart = new uPlot({ ...options, width: Math.max(el.clientWidth, 200), height }, data, el);
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(el.clientWidth, 200), height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // data is applied by the effect below; a fresh instance only for new options
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [options, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={box} role="img" aria-label={label} className="w-full" />;
}

export { uPlot };
