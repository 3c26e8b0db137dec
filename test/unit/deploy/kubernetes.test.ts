/**
 * deploy/k8s: every object valid against its Kubernetes (or KEDA) schema, and the properties the
 * deployment relies on: GPU workers that drain before they are killed, readiness from the metrics
 * endpoint, a bot that runs replicated, KEDA watching the consumer the workers really use, only
 * known configuration variables, and every Secret and ConfigMap a pod names present. The checks
 * run on the files as written and, where kubectl is installed, on `kubectl kustomize` output.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ScaledObject, type IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolumeClaim,
  Secret,
  Service,
  type IContainer,
  type IPodSpec,
  type IService,
} from 'kubernetes-models/v1';
import {
  STREAMS,
  backlogConsumerName,
  jobConsumerName,
  listConfigVariables,
  parseDuration,
} from '@sdbot/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  parseDockerfile,
  parseEnvFile,
  parseManifests,
  parseYaml,
  readRepositoryFile,
  toolAvailable,
  type Manifest,
} from '../../helpers/deploy-files.js';
import {
  declaredObjects,
  isLocalConfig,
  kubernetesDirectory,
  readKustomization,
  renderKustomization,
} from '../../helpers/kubernetes-manifests.js';

type ModelClass = new (data: never) => { validate(): void };
/** Builds the model of a YAML object; `validate()` then checks it against the schema. */
const modelOf = (Model: ModelClass) => (object: Manifest) => new Model(object as never);

/** The model class of every kind deploy/k8s uses; an unknown kind fails the test. */
const MODELS: Record<string, (object: Manifest) => { validate(): void }> = {
  'v1/Namespace': modelOf(Namespace),
  'v1/ConfigMap': modelOf(ConfigMap),
  'v1/Secret': modelOf(Secret),
  'v1/Service': modelOf(Service),
  'v1/PersistentVolumeClaim': modelOf(PersistentVolumeClaim),
  'apps/v1/Deployment': modelOf(Deployment),
  'policy/v1/PodDisruptionBudget': modelOf(PodDisruptionBudget),
  'batch/v1/Job': modelOf(Job),
  'keda.sh/v1alpha1/ScaledObject': modelOf(ScaledObject),
};

const configVariableNames = new Set(listConfigVariables().map((v) => v.env));
const secretsExample = join(kubernetesDirectory, 'secrets.env.example');

interface NatsValues {
  config: {
    cluster: { enabled: boolean; replicas: number };
    jetstream: {
      enabled: boolean;
      fileStore: { enabled: boolean; pvc: { enabled: boolean; size: string } };
      merge: Record<string, unknown>;
    };
    monitor: { enabled: boolean; port: number };
    merge: {
      accounts: Record<
        string,
        { jetstream: string; users: { user: string; password: string; permissions: unknown }[] }
      >;
    };
  };
  container: { env: Record<string, { valueFrom: { secretKeyRef: { name: string; key: string } } }> };
  podDisruptionBudget: { enabled: boolean };
}

const natsValuesPath = join(kubernetesDirectory, 'nats-values.yaml');
const natsValues = parseYaml(readFileSync(natsValuesPath, 'utf8'), natsValuesPath) as NatsValues;
/** The chart's release name in the README's `helm upgrade --install nats ...`. */
const NATS_RELEASE = 'nats';

/** uid the images run as (USER in the Dockerfiles). */
function imageUid(dockerfile: string): number {
  const final = parseDockerfile(readRepositoryFile(dockerfile)).stages.at(-1);
  const user = final?.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args[0] ?? '';
  return Number(user.split(':')[0]);
}

function yamlFilesUnder(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    if (statSync(path).isDirectory()) return yamlFilesUnder(path);
    return entry.endsWith('.yaml') ? [path] : [];
  });
}

class ObjectSet {
  constructor(readonly objects: Manifest[]) {}

  find(kind: string, name: string): Manifest | undefined {
    // kustomize appends a content hash to generated names.
    return this.objects.find(
      (o) => o.kind === kind && (o.metadata.name === name || o.metadata.name.startsWith(`${name}-`)),
    );
  }

  get(kind: string, name: string): Manifest {
    const found = this.find(kind, name);
    if (found === undefined) throw new Error(`no ${kind} named ${name}`);
    return found;
  }

  deployment(name: string): IDeployment {
    return this.get('Deployment', name) as unknown as IDeployment;
  }

  pod(name: string): IPodSpec {
    const spec = this.deployment(name).spec?.template.spec;
    if (spec === undefined) throw new Error(`Deployment ${name} has no pod spec`);
    return spec;
  }

  container(name: string): IContainer {
    const [container, ...others] = this.pod(name).containers;
    if (container === undefined || others.length > 0) throw new Error(`${name}: expected one container`);
    return container;
  }

  /** Data of a ConfigMap, or of a Secret (stringData as declared, data as rendered). */
  data(kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> {
    const object = this.get(kind, name) as {
      data?: Record<string, string>;
      stringData?: Record<string, string>;
    };
    return { ...object.data, ...object.stringData };
  }

  /** The environment a container sees: its envFrom ConfigMaps, then its literal env values. */
  environment(container: IContainer): Record<string, string> {
    const environment: Record<string, string> = {};
    for (const source of container.envFrom ?? []) {
      const name = source.configMapRef?.name;
      if (name !== undefined) Object.assign(environment, this.data('ConfigMap', name));
    }
    for (const variable of container.env ?? []) {
      if (variable.value !== undefined) environment[variable.name] = variable.value;
    }
    return environment;
  }

  scaling(): IScaledObject['spec'] {
    return (this.get('ScaledObject', 'sdbot-worker') as unknown as IScaledObject).spec;
  }

  /** Metadata of the worker's KEDA trigger on the work queue (the first). */
  trigger(): Record<string, string> {
    return this.triggerAt(0);
  }

  /** Metadata of the worker's KEDA trigger on the fair-share backlog (the second and last). */
  backlogTrigger(): Record<string, string> {
    return this.triggerAt(1);
  }

  private triggerAt(index: number): Record<string, string> {
    const triggers = this.scaling().triggers;
    if (triggers.length !== 2) throw new Error('expected two KEDA triggers: work queue and backlog');
    const trigger = triggers[index];
    if (trigger === undefined) throw new Error(`no KEDA trigger ${index}`);
    return trigger.metadata;
  }
}

function defineChecks(label: string, load: () => Manifest[]) {
  describe(label, () => {
    let set: ObjectSet;
    beforeAll(() => {
      set = new ObjectSet(load().filter((object) => !isLocalConfig(object)));
    });

    it('holds only objects that are valid against their Kubernetes or KEDA schema', () => {
      expect(set.objects.length).toBeGreaterThan(0);
      for (const object of set.objects) {
        const model = MODELS[`${object.apiVersion}/${object.kind}`];
        expect(model, `a model for ${object.apiVersion} ${object.kind}`).toBeDefined();
        expect(() => model?.(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
      }
    });

    it('runs at least two bot replicas, kept through voluntary disruptions', () => {
      expect(set.deployment('sdbot-bot').spec?.replicas).toBeGreaterThanOrEqual(2);
      const budget = set.get('PodDisruptionBudget', 'sdbot-bot') as unknown as IPodDisruptionBudget;
      expect(budget.spec?.minAvailable).toBe(1);
      expect(budget.spec?.selector?.matchLabels).toEqual(
        set.deployment('sdbot-bot').spec?.selector.matchLabels,
      );
    });

    it('gives each worker one GPU and leaves the replica count to KEDA', () => {
      const limits = set.container('sdbot-worker').resources?.limits ?? {};
      expect(Number(limits['nvidia.com/gpu'])).toBe(1);
      expect(set.deployment('sdbot-worker').spec?.replicas).toBeUndefined();
      const tolerations = set.pod('sdbot-worker').tolerations ?? [];
      expect(tolerations.some((t) => t.key === 'nvidia.com/gpu' && t.operator === 'Exists')).toBe(true);
    });

    it('lets a worker finish its jobs and hand the rest back before Kubernetes kills it', () => {
      // SIGTERM starts the drain: running jobs get SDBOT_SHUTDOWN_GRACE (a long job at the step
      // limit takes minutes), then the worker needs a little longer to hand the rest back.
      const grace = parseDuration(set.environment(set.container('sdbot-worker')).SDBOT_SHUTDOWN_GRACE ?? '');
      expect(grace).toBeGreaterThanOrEqual(5 * 60_000);
      const killAfter = (set.pod('sdbot-worker').terminationGracePeriodSeconds ?? 30) * 1000;
      expect(killAfter - (grace ?? 0)).toBeGreaterThanOrEqual(30_000);
    });

    it('probes readiness and liveness on the metrics port the process serves', () => {
      for (const name of ['sdbot-bot', 'sdbot-worker']) {
        const container = set.container(name);
        const metricsPort = container.ports?.find((port) => port.name === 'metrics');
        expect(metricsPort, `${name} names its metrics port`).toBeDefined();
        expect(String(metricsPort?.containerPort)).toBe(set.environment(container).SDBOT_METRICS_PORT);
        expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
        expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      }
      // Loading a model takes minutes: a startup probe holds liveness off meanwhile.
      const startup = set.container('sdbot-worker').startupProbe;
      expect(startup?.httpGet?.port).toBe('metrics');
      expect((startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3)).toBeGreaterThanOrEqual(300);
    });

    it('exposes the metrics ports through labelled Services that select the pods', () => {
      for (const [service, deployment] of [
        ['sdbot-bot-metrics', 'sdbot-bot'],
        ['sdbot-worker-metrics', 'sdbot-worker'],
      ] as const) {
        const spec = (set.get('Service', service) as unknown as IService).spec;
        const podLabels = set.deployment(deployment).spec?.template.metadata?.labels ?? {};
        for (const [key, value] of Object.entries(spec?.selector ?? {})) expect(podLabels[key]).toBe(value);
        expect(spec?.ports).toContainEqual(
          expect.objectContaining({ name: 'metrics', targetPort: 'metrics' }),
        );
        expect(set.get('Service', service).metadata.labels?.['sdbot.dev/metrics']).toBe('true');
      }
    });

    it('scales the worker Deployment on the consumer of the model it serves', () => {
      const scaled = set.scaling();
      expect(scaled.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'sdbot-worker' });
      expect(scaled.triggers.map((trigger) => trigger.type)).toEqual(['nats-jetstream', 'nats-jetstream']);
      const metadata = set.trigger();
      const models = (set.environment(set.container('sdbot-worker')).SDBOT_MODELS ?? '').split(',');
      expect(models).toHaveLength(1);
      // The worker names its model after the folder; the consumers come from the same functions.
      expect(metadata.consumer).toBe(jobConsumerName(basename(models[0] ?? '')));
      expect(metadata.stream).toBe(STREAMS.jobs);
      expect(metadata.lagThreshold).toMatch(/^[1-9]\d*$/);
      // Jobs waiting for their guild's turn count too: the observer of the model's backlog.
      const backlog = set.backlogTrigger();
      expect(backlog.consumer).toBe(backlogConsumerName(basename(models[0] ?? '')));
      expect(backlog.stream).toBe(STREAMS.backlog);
      expect(backlog).toMatchObject({
        natsServerMonitoringEndpoint: metadata.natsServerMonitoringEndpoint,
        account: metadata.account,
        lagThreshold: metadata.lagThreshold,
      });
      expect(scaled.minReplicaCount).toBeGreaterThanOrEqual(0);
      expect(scaled.maxReplicaCount).toBeGreaterThanOrEqual(Math.max(1, scaled.minReplicaCount ?? 0));
    });

    it('points KEDA at the monitoring endpoint and account of the NATS Helm release', () => {
      const metadata = set.trigger();
      const namespace = set.deployment('sdbot-worker').metadata?.namespace ?? 'sdbot';
      expect(metadata.natsServerMonitoringEndpoint).toBe(
        `${NATS_RELEASE}-headless.${namespace}.svc.cluster.local:${natsValues.config.monitor.port}`,
      );
      const account = Object.entries(natsValues.config.merge.accounts).find(([, a]) =>
        a.users.some((user) => user.user === 'sdbot-worker'),
      )?.[0];
      expect(metadata.account).toBe(account);
    });

    it('mounts the models volume read-only where SDBOT_MODELS points', () => {
      const pod = set.pod('sdbot-worker');
      const mount = set.container('sdbot-worker').volumeMounts?.find((m) => m.mountPath === '/models');
      expect(mount?.readOnly).toBe(true);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.persistentVolumeClaim?.readOnly).toBe(true);
      expect(set.find('PersistentVolumeClaim', volume?.persistentVolumeClaim?.claimName ?? '')).toBeDefined();
      const models = set.environment(set.container('sdbot-worker')).SDBOT_MODELS ?? '';
      for (const model of models.split(',')) expect(model).toMatch(/^\/models\/[A-Za-z0-9_-]+$/);
    });

    it('sets only known configuration variables', () => {
      for (const name of ['sdbot-bot', 'sdbot-worker']) {
        const container = set.container(name);
        const names = [
          ...Object.keys(set.environment(container)),
          ...(container.env ?? []).map((variable) => variable.name),
        ];
        for (const variable of names) expect(configVariableNames, `${name}: ${variable}`).toContain(variable);
      }
    });

    it('connects each component as its own NATS user, with that user’s password', () => {
      const accountUsers = Object.values(natsValues.config.merge.accounts).flatMap((a) => a.users);
      for (const [deployment, user] of [
        ['sdbot-bot', 'sdbot-bot'],
        ['sdbot-worker', 'sdbot-worker'],
      ] as const) {
        const container = set.container(deployment);
        expect(set.environment(container).NATS_USER).toBe(user);
        expect(set.environment(container).NATS_URL).toBe(`nats://${NATS_RELEASE}:4222`);
        const passwordRef = container.env?.find((v) => v.name === 'NATS_PASSWORD')?.valueFrom?.secretKeyRef;
        const serverVariable = /\$(\w+)/.exec(accountUsers.find((u) => u.user === user)?.password ?? '')?.[1];
        expect(serverVariable, `the server reads ${user}'s password from a variable`).toBeDefined();
        // The server gets that variable from the same Secret key the client reads.
        expect(natsValues.container.env[serverVariable ?? '']?.valueFrom.secretKeyRef).toEqual({
          name: passwordRef?.name,
          key: passwordRef?.key,
        });
      }
    });

    it('references only Secrets and ConfigMaps (and keys) that exist', () => {
      const pods = set.objects.flatMap((object) => {
        const spec = (object as { spec?: { template?: { spec?: IPodSpec } } }).spec?.template?.spec;
        return spec === undefined ? [] : [spec];
      });
      const secretRefs = [
        ...pods
          .flatMap((pod) => pod.containers.flatMap((c) => c.env ?? []))
          .flatMap((v) => v.valueFrom?.secretKeyRef ?? []),
        ...Object.values(natsValues.container.env).map((v) => v.valueFrom.secretKeyRef),
      ];
      expect(secretRefs.length).toBeGreaterThan(0);
      for (const ref of secretRefs) {
        expect(Object.keys(set.data('Secret', ref.name ?? '')), `${ref.name ?? ''} has ${ref.key}`).toContain(
          ref.key,
        );
      }
      for (const pod of pods) {
        for (const source of pod.containers.flatMap((c) => c.envFrom ?? [])) {
          expect(set.find('ConfigMap', source.configMapRef?.name ?? '')).toBeDefined();
        }
      }
    });

    it('runs as the non-root user the images are built with, on a read-only root filesystem', () => {
      const expected = {
        'sdbot-bot': 'deploy/docker/bot.Dockerfile',
        'sdbot-worker': 'deploy/docker/worker-cuda.Dockerfile',
      };
      for (const [name, dockerfile] of Object.entries(expected)) {
        const pod = set.pod(name);
        expect(pod.securityContext?.runAsNonRoot).toBe(true);
        expect(pod.securityContext?.runAsUser).toBe(imageUid(dockerfile));
        const container = set.container(name);
        expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
        expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
        expect(
          container.volumeMounts?.some((m) => m.mountPath === '/tmp'),
          `${name}: a writable /tmp`,
        ).toBe(true);
      }
    });
  });
}

defineChecks('deploy/k8s as written', () =>
  declaredObjects(kubernetesDirectory, { 'secrets.env': secretsExample }),
);

const kubectl = toolAvailable('kubectl', ['version', '--client']);
describe.skipIf(!kubectl)(
  `deploy/k8s rendered by kubectl kustomize${kubectl ? '' : ' (skipped: kubectl is not installed)'}`,
  () => {
    defineChecks('main kustomization', () => renderKustomization());

    it('fills the model, the consumer and the lag threshold from settings/ alone', () => {
      const rendered = new ObjectSet(
        renderKustomization('.', (copy) => {
          const path = join(copy, 'settings', 'kustomization.yaml');
          const text = readFileSync(path, 'utf8');
          writeFileSync(
            path,
            text
              .replace('workerModel=sd15', 'workerModel=sd-xl-turbo')
              .replace('lagThreshold=3', 'lagThreshold=7'),
          );
        }),
      );
      expect(rendered.environment(rendered.container('sdbot-worker')).SDBOT_MODELS).toBe(
        '/models/sd-xl-turbo',
      );
      const metadata = rendered.trigger();
      expect(metadata.consumer).toBe(jobConsumerName('sd-xl-turbo'));
      expect(metadata.lagThreshold).toBe('7');
      expect(rendered.backlogTrigger()).toMatchObject({
        consumer: backlogConsumerName('sd-xl-turbo'),
        lagThreshold: '7',
      });
    });

    it('renders the model download Job into the worker model folder with the worker image', () => {
      const objects = renderKustomization('models-download');
      for (const object of objects)
        expect(() => MODELS[`${object.apiVersion}/${object.kind}`]?.(object).validate()).not.toThrow();
      const job = objects.find((o) => o.kind === 'Job') as unknown as {
        spec: { template: { spec: IPodSpec } };
      };
      const container = job.spec.template.spec.containers[0];
      const main = new ObjectSet(renderKustomization());
      expect(container?.image).toBe(main.container('sdbot-worker').image);
      const modelsDirectory = main.environment(main.container('sdbot-worker')).SDBOT_MODELS;
      expect(container?.args?.slice(0, 2)).toEqual(['models', 'download']);
      expect(container?.args?.[container.args.indexOf('--dir') + 1]).toBe(modelsDirectory);
    });
  },
);

describe('deploy/k8s files', () => {
  it('are all used by a kustomization, except the Helm values', () => {
    const used = new Set<string>();
    for (const directory of ['.', 'models-download', 'monitoring']) {
      const base = join(kubernetesDirectory, directory);
      const kustomization = readKustomization(base);
      used.add(join(base, 'kustomization.yaml'));
      for (const resource of kustomization.resources ?? []) used.add(join(base, resource));
      for (const component of kustomization.components ?? [])
        used.add(join(base, component, 'kustomization.yaml'));
    }
    const unused = yamlFilesUnder(kubernetesDirectory)
      .filter((path) => !used.has(path))
      .map((path) => relative(kubernetesDirectory, path));
    expect(unused.sort()).toEqual(['nats-values.yaml']);
  });

  it('hold, as written, the values settings/ fills in, so the files read true on their own', () => {
    const settings = declaredObjects(join(kubernetesDirectory, 'settings')).find((o) =>
      isLocalConfig(o),
    ) as unknown as {
      data: { workerModel: string; lagThreshold: string };
    };
    const objects = new ObjectSet(declaredObjects(kubernetesDirectory, { 'secrets.env': secretsExample }));
    expect(objects.data('ConfigMap', 'sdbot-worker').SDBOT_MODELS).toBe(
      `/models/${settings.data.workerModel}`,
    );
    const metadata = objects.trigger();
    expect(metadata.consumer).toBe(jobConsumerName(settings.data.workerModel));
    expect(metadata.lagThreshold).toBe(settings.data.lagThreshold);
    expect(objects.backlogTrigger()).toMatchObject({
      consumer: backlogConsumerName(settings.data.workerModel),
      lagThreshold: settings.data.lagThreshold,
    });
    const jobPath = join(kubernetesDirectory, 'models-download', 'job.yaml');
    const [job] = parseManifests(readFileSync(jobPath, 'utf8'), jobPath) as unknown as {
      spec: { template: { spec: IPodSpec } };
    }[];
    expect(job?.spec.template.spec.containers[0]?.args).toContain(`/models/${settings.data.workerModel}`);
  });

  it('keep secrets out of git: an example file with empty values, the real one ignored', () => {
    const example = parseEnvFile(readFileSync(secretsExample, 'utf8'));
    expect([...example.active.values()].every((value) => value === '')).toBe(true);
    expect(readFileSync(join(kubernetesDirectory, '.gitignore'), 'utf8').split('\n')).toContain(
      'secrets.env',
    );
  });

  it("give Grafana's dashboard sidecar the sdbot dashboard compose provisions", () => {
    const kustomization = readKustomization(join(kubernetesDirectory, 'monitoring')) as unknown as {
      configMapGenerator?: {
        name: string;
        files?: string[];
        options?: { labels?: Record<string, string> };
      }[];
    };
    const generator = kustomization.configMapGenerator?.find((g) => g.name === 'sdbot-grafana-dashboard');
    expect(generator?.options?.labels).toEqual({ grafana_dashboard: '1' });
    expect(generator?.files).toEqual(['sdbot-dashboard.json']);
    const dashboard = JSON.parse(
      readFileSync(join(kubernetesDirectory, 'monitoring', 'sdbot-dashboard.json'), 'utf8'),
    ) as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBe('sdbot');
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });

  it('include a ServiceMonitor that scrapes the labelled metrics Services', () => {
    const path = join(kubernetesDirectory, 'monitoring', 'servicemonitor.yaml');
    const [monitor] = parseManifests(readFileSync(path, 'utf8'), path) as unknown as {
      apiVersion: string;
      kind: string;
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
    }[];
    expect(monitor?.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor?.kind).toBe('ServiceMonitor');
    expect(monitor?.spec.selector.matchLabels).toEqual({ 'sdbot.dev/metrics': 'true' });
    expect(monitor?.spec.endpoints).toContainEqual(
      expect.objectContaining({ port: 'metrics', path: '/metrics' }),
    );
  });
});

describe('deploy/k8s/nats-values.yaml (official NATS Helm chart)', () => {
  it('runs a 3-server JetStream cluster on persistent volumes that fsyncs every write', () => {
    expect(natsValues.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(natsValues.config.jetstream.enabled).toBe(true);
    expect(natsValues.config.jetstream.fileStore).toMatchObject({ enabled: true, pvc: { enabled: true } });
    expect(natsValues.config.jetstream.fileStore.pvc.size).toMatch(/^\d+Gi$/);
    expect(natsValues.config.jetstream.merge.sync_interval).toBe('always');
    expect(natsValues.podDisruptionBudget.enabled).toBe(true);
    expect(natsValues.config.monitor.enabled).toBe(true);
  });

  it('defines the bot and worker users in a JetStream-enabled account, passwords from the environment', () => {
    const accounts = Object.values(natsValues.config.merge.accounts);
    const users = accounts.flatMap((account) => account.users);
    expect(users.map((u) => u.user).sort()).toEqual(['sdbot-admin', 'sdbot-bot', 'sdbot-worker']);
    for (const account of accounts) expect(account.jetstream).toBe('enabled');
    for (const user of users) expect(user.password).toMatch(/^<< \$[A-Z_]+ >>$/);
  });
});
