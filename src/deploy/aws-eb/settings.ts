/**
 * What one Elastic Beanstalk deployment is: the choices `sifu deploy aws-eb` asks for (or takes as flags)
 * and saves in the git-ignored deployment file (`.sifu-deploy.json`) so that the next run reuses them.
 * The bundle (bundle.ts) and the AWS steps (steps/) both read it; neither holds a secret in it.
 */
export interface DeploySettings {
  /** EB region (the old system's default: us-west-1). */
  region: string;
  /** ECR region (the old default: us-west-2); usually the same as `region`. */
  registryRegion: string;
  application: string;
  environment: string;
  /** ECR repositories: Sifu's image and the notebook image (`sifu image build`). */
  repositories: { sifu: string; notebook: string };
  ports: { hub: number; notebook: number; relay: number };
  /** `--database`: RDS PostgreSQL created or reused (EB gives instances `RDS_*` variables). */
  database: boolean;
  /** `--efs`: the EFS file system for homes, mounted at `efsMountPath` on every instance. */
  efs: boolean;
  efsMountPath: string;
  /** SSM Parameter Store SecureString holding the deployment token (read by instances at start). */
  tokenParameter: string;
  instanceType: string;
  /** Instances: min and max of the auto-scaling group. */
  instances: { min: number; max: number };
}

/** Image references the bundle runs, filled in once the images are pushed. */
export interface DeployImages {
  sifu: string;
  notebook: string;
}

export const DEFAULT_SETTINGS: Omit<DeploySettings, 'application' | 'environment'> = {
  region: 'us-west-1',
  registryRegion: 'us-west-2',
  repositories: { sifu: 'sifu', notebook: 'sifu-notebook' },
  ports: { hub: 3334, notebook: 3335, relay: 3336 },
  database: false,
  efs: false,
  efsMountPath: '/mnt/efs',
  tokenParameter: '/sifu/deployment-token',
  instanceType: 't3.medium',
  instances: { min: 1, max: 4 },
};

/** The deployment file, next to where the command runs; git-ignored. */
export const DEPLOY_FILE = '.sifu-deploy.json';
