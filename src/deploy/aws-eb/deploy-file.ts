import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, DEPLOY_FILE, type DeploySettings } from './settings.js';

/** What a run made (and so what `destroy` may remove); kept in the deployment file beside the settings. */
export interface CreatedResources {
  application?: string;
  environment?: string;
  versions: string[];
  /** S3 objects of the bundles, `bucket/key`. */
  objects: string[];
  repositories: string[];
  securityGroups: string[];
  parameters: string[];
  database?: string;
  fileSystem?: string;
}

export interface DeployFile {
  settings: DeploySettings;
  created: CreatedResources;
}

export const NOTHING_CREATED: CreatedResources = {
  versions: [],
  objects: [],
  repositories: [],
  securityGroups: [],
  parameters: [],
};

/** The deployment file in `directory`, or undefined before the first run. */
export function readDeployFile(directory: string): DeployFile | undefined {
  const path = join(directory, DEPLOY_FILE);
  if (!existsSync(path)) return undefined;
  const { created, ...saved } = JSON.parse(readFileSync(path, 'utf8')) as Partial<DeploySettings> & {
    created?: Partial<CreatedResources>;
  };
  const settings = {
    ...DEFAULT_SETTINGS,
    application: 'sifu',
    environment: 'sifu-env',
    ...saved,
  } as DeploySettings;
  return { settings, created: { ...NOTHING_CREATED, ...created } };
}

export function writeDeployFile(directory: string, file: DeployFile): void {
  const content = `${JSON.stringify({ ...file.settings, created: file.created }, null, 2)}\n`;
  writeFileSync(join(directory, DEPLOY_FILE), content, { mode: 0o600 });
}

export function remember(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item);
}
