/**
 * Where the engine keeps things under its root (`--root`, default /var/lib/berth), beside the
 * image store (blobs/, snapshots/, images/, rootfs/ — src/store/layout.ts):
 *   containers/<id>/container.json   the record (Docker's config and host config)
 *   containers/<id>/{json.log,exit.json,hosts,hostname,resolv.conf,init}
 *   containers/<id>/rootfs           mount point of the overlay (mounted only inside the container)
 *   names/<name>                     name → id claims (created with O_EXCL: one winner)
 *   runtime/                         the OCI runtime's state (src/runtime), private to this root
 *   volumes/<name>/_data             named volumes
 */
import path from 'node:path';

export class EngineLayout {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }
  get containersDir(): string {
    return path.join(this.root, 'containers');
  }
  container(id: string): string {
    return path.join(this.containersDir, id);
  }
  record(id: string): string {
    return path.join(this.container(id), 'container.json');
  }
  log(id: string): string {
    return path.join(this.container(id), 'json.log');
  }
  exit(id: string): string {
    return path.join(this.container(id), 'exit.json');
  }
  rootfsMount(id: string): string {
    return path.join(this.container(id), 'rootfs');
  }
  get namesDir(): string {
    return path.join(this.root, 'names');
  }
  name(name: string): string {
    return path.join(this.namesDir, name);
  }
  get runtimeRoot(): string {
    return path.join(this.root, 'runtime');
  }
  get volumesDir(): string {
    return path.join(this.root, 'volumes');
  }
  volume(name: string): string {
    return path.join(this.volumesDir, name);
  }
}
