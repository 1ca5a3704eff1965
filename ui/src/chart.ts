// uPlot charts that follow the colour scheme and the container's width.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { type ChartData, stack } from "./series";

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function themed(): { axis: string; grid: string } {
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  return dark ? { axis: "#c9d1d9", grid: "#30363d" } : { axis: "#24292f", grid: "#e5e7eb" };
}

let measure: CanvasRenderingContext2D | null = null;

/** The y axis's width: its longest tick label plus the tick and gap. */
function axisWidth(u: uPlot, values: string[] | null): number {
  if (!values?.length) return 40;
  measure ??= document.createElement("canvas").getContext("2d");
  if (!measure) return 60;
  // After init uPlot keeps the axis font as [font scaled to device pixels, size].
  const font: unknown = u.axes[1]?.font;
  const scaled = Array.isArray(font) && typeof font[0] === "string";
  measure.font = scaled ? (font[0] as string) : "12px system-ui, sans-serif";
  const widest = Math.max(...values.map((v) => measure!.measureText(v).width));
  return Math.ceil(scaled ? widest / devicePixelRatio : widest) + 24;
}

/** Draws a (stacked) area chart; returns a function that removes it. */
export function drawChart(
  target: HTMLElement,
  data: ChartData,
  opts: {
    title: string;
    stacked: boolean;
    format: (v: number) => string;
    integer?: boolean;
    /** Axis labels for all ticks at once (when a label depends on the spacing). */
    ticks?: (ticks: number[]) => string[];
  },
): () => void {
  const { axis, grid } = themed();
  const rows = opts.stacked ? stack(data.values) : data.values;
  const width = () => Math.max(280, target.clientWidth || 600);
  const series: uPlot.Series[] = [
    {},
    ...data.groups.map((g, i) => ({
      label: g,
      stroke: color(i),
      fill: opts.stacked ? color(i) + "55" : undefined,
      width: 1.5,
      value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) =>
        idx === null ? "–" : opts.format(data.values[i][idx]),
    })),
  ];
  // Stacked: each group fills the band between its cumulative line and the one below it.
  const bands: uPlot.Band[] = opts.stacked ? data.groups.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })) : [];
  const plotData: uPlot.AlignedData = [data.xs, ...rows];
  const u = new uPlot(
    {
      width: width(),
      height: 200,
      title: opts.title,
      series,
      bands,
      // Every metric starts at 0; an all-zero series gets 0..1 rather than uPlot's 0..100.
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: axis, grid: { stroke: grid } },
        {
          stroke: axis,
          grid: { stroke: grid },
          values: (_u, ticks) =>
            opts.ticks ? opts.ticks(ticks) : ticks.map((t) => (opts.integer && !Number.isInteger(t) ? "" : opts.format(t))),
          // Wide enough for the longest label ("$0.0003"), measured in the axis font.
          size: (u, values) => axisWidth(u, values),
        },
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    },
    plotData,
    target,
  );
  const resize = () => u.setSize({ width: width(), height: 200 });
  window.addEventListener("resize", resize);
  return () => {
    window.removeEventListener("resize", resize);
    u.destroy();
  };
}
