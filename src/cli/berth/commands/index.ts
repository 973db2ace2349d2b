/**
 * The command table of `berth`. Each entry declares its flags here and imports its handler lazily.
 * One file per concern under ./ (image.ts, container.ts, ...), each exporting `register(program)`.
 */
import type { Command } from 'commander';
import { registerImageCommands } from './image.ts';
import { registerDistributionCommands } from './distribution.ts';
import { registerNetworkCommands } from './network.ts';
import { registerBuildCommand } from './build.ts';
import { registerCompareCommand } from './compare.ts';
import { registerContainerCommands, registerCpCommand, registerVolumeCommands } from './container.ts';

export function registerCommands(program: Command): void {
  registerImageCommands(program);
  registerDistributionCommands(program);
  registerContainerCommands(program);
  registerVolumeCommands(program);
  registerCpCommand(program);
  registerBuildCommand(program);
  registerNetworkCommands(program);
  registerCompareCommand(program);
  // Concerns register themselves here as they land, e.g. `registerImageCommands(program)`.
}
