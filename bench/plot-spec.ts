// Plot specifications a benchmark writes into its JSON (a top-level "plots" list) for
// bench/plot.py (`npm run plot -- FILE.json`) to draw with matplotlib. Any benchmark can use them.

export interface Series {
  label: string;
  values: number[];
}

/** Stacked panels sharing one x axis, with labelled spans (phases) shaded on every panel. */
export interface TimeseriesPlot {
  file: string;
  kind: 'timeseries';
  title: string;
  x: { label: string; values: number[] };
  panels: Array<{ ylabel: string; series: Series[] }>;
  spans?: Array<{ from: number; to: number; label: string }>;
}

/** Grouped bars: one group per category, one bar per series. */
export interface BarsPlot {
  file: string;
  kind: 'bars';
  title: string;
  categories: string[];
  ylabel: string;
  log?: boolean;
  series: Series[];
}

export type PlotSpec = TimeseriesPlot | BarsPlot;
