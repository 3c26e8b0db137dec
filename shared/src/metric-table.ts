/**
 * Prometheus metrics declared from a table, so a process's metrics module lists only each metric's
 * name, help, labels and buckets, and the code refers to each metric by its key in the table.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

interface SpecBase {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface CounterSpec extends SpecBase {
  kind: 'counter';
}

export interface GaugeSpec extends SpecBase {
  kind: 'gauge';
}

export interface HistogramSpec extends SpecBase {
  kind: 'histogram';
  buckets: readonly number[];
}

export type MetricSpec = CounterSpec | GaugeSpec | HistogramSpec;
export type MetricTable = Record<string, MetricSpec>;

/** The label names of a spec, or any label where the spec names none (prom-client's own default). */
type LabelsOf<S extends MetricSpec> = S extends { labelNames: readonly (infer L extends string)[] }
  ? L
  : string;

type MetricOf<S extends MetricSpec> = S extends CounterSpec
  ? Counter<LabelsOf<S>>
  : S extends GaugeSpec
    ? Gauge<LabelsOf<S>>
    : Histogram<LabelsOf<S>>;

/** The metrics of a table, by their keys. */
export type DeclaredMetrics<T extends MetricTable> = { readonly [K in keyof T]: MetricOf<T[K]> };

/** Metrics with the registry that serves them. */
export type RegistryMetrics<T extends MetricTable> = DeclaredMetrics<T> & { readonly registry: Registry };

function declareMetric(registry: Registry, spec: MetricSpec): Counter | Gauge | Histogram {
  const { name, help } = spec;
  const labels = spec.labelNames === undefined ? {} : { labelNames: spec.labelNames };
  const registers = [registry];
  switch (spec.kind) {
    case 'counter':
      return new Counter({ name, help, ...labels, registers });
    case 'gauge':
      return new Gauge({ name, help, ...labels, registers });
    case 'histogram':
      return new Histogram({ name, help, buckets: [...spec.buckets], ...labels, registers });
  }
}

/** Registers every metric of `table` in `registry`. */
export function declareMetrics<const T extends MetricTable>(
  registry: Registry,
  table: T,
): DeclaredMetrics<T> {
  const metrics = Object.entries(table).map(([key, spec]) => [key, declareMetric(registry, spec)]);
  return Object.fromEntries(metrics) as DeclaredMetrics<T>;
}

/**
 * The metrics of `table` in a registry of their own, so several services in one process (tests,
 * the scale bench) never collide.
 */
export function metricsInOwnRegistry<const T extends MetricTable>(table: T): RegistryMetrics<T> {
  const registry = new Registry();
  return { ...declareMetrics(registry, table), registry };
}
