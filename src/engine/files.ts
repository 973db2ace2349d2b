/**
 * The per-container files Docker bind-mounts over the image's: /etc/hosts, /etc/hostname and
 * /etc/resolv.conf. resolv.conf keeps the host's settings but drops loopback nameservers, which
 * mean nothing inside another network namespace (Docker's rule).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function hostsFile(hostname: string, ips: string[] = [], extra: [string, string][] = []): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix'];
  for (const ip of ips) lines.push(`${ip}\t${hostname}`);
  for (const [name, ip] of extra) lines.push(`${ip}\t${name}`);
  return lines.join('\n') + '\n';
}

export function resolvConf(host: string, dns: string[] = []): string {
  const kept = host
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l))
    .filter((l) => !(dns.length && /^\s*nameserver\s/.test(l)));
  for (const d of dns) kept.push(`nameserver ${d}`);
  return kept.filter((l) => l.trim()).join('\n') + '\n';
}

export function writeContainerFiles(dir: string, hostname: string): { hosts: string; hostname: string; resolvConf: string } {
  const files = { hosts: path.join(dir, 'hosts'), hostname: path.join(dir, 'hostname'), resolvConf: path.join(dir, 'resolv.conf') };
  let host = '';
  try {
    host = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* no resolver configured on the host */
  }
  writeFileSync(files.hosts, hostsFile(hostname));
  writeFileSync(files.hostname, `${hostname}\n`);
  writeFileSync(files.resolvConf, resolvConf(host));
  return files;
}
