/**
 * Constructors for the Prometheus metrics of one registry, so a process's metrics module lists only
 * each metric's name, help, labels and buckets.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface HistogramShape<L extends string> {
  buckets: number[];
  labelNames?: readonly L[];
}

export interface MetricKinds {
  counter<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string = string>(name: string, help: string, shape: HistogramShape<L>): Histogram<L>;
}

export function metricKinds(registry: Registry): MetricKinds {
  const labels = <L extends string>(labelNames: readonly L[] | undefined) =>
    labelNames === undefined ? {} : { labelNames };
  return {
    counter: (name, help, labelNames) =>
      new Counter({ name, help, ...labels(labelNames), registers: [registry] }),
    gauge: (name, help, labelNames) =>
      new Gauge({ name, help, ...labels(labelNames), registers: [registry] }),
    histogram: (name, help, { buckets, labelNames }) =>
      new Histogram({ name, help, buckets, ...labels(labelNames), registers: [registry] }),
  };
}
