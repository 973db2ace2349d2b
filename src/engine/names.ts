/** Container ids (64 hex, as Docker) and Docker-style generated names (adjective_scientist). */
import { randomBytes, randomInt } from 'node:crypto';

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

const ADJECTIVES = [
  'admiring', 'adoring', 'affectionate', 'amazing', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming',
  'clever', 'compassionate', 'competent', 'confident', 'cool', 'dazzling', 'determined', 'dreamy', 'eager', 'ecstatic',
  'elastic', 'elegant', 'epic', 'exciting', 'fervent', 'festive', 'focused', 'friendly', 'gallant', 'gifted',
  'goofy', 'gracious', 'happy', 'hopeful', 'inspiring', 'jolly', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'modest', 'nice', 'nifty', 'nostalgic', 'optimistic', 'peaceful', 'pensive', 'practical', 'quirky',
  'relaxed', 'serene', 'sharp', 'stoic', 'strange', 'sweet', 'tender', 'trusting', 'vibrant', 'wizardly', 'zealous',
];
const NAMES = [
  'agnesi', 'albattani', 'allen', 'archimedes', 'babbage', 'banach', 'bardeen', 'bell', 'bhabha', 'black',
  'booth', 'bose', 'brattain', 'carson', 'cerf', 'chandrasekhar', 'curie', 'darwin', 'dijkstra', 'einstein',
  'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gauss', 'goldberg', 'hamilton',
  'hawking', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamport', 'liskov', 'lovelace', 'margulis',
  'maxwell', 'mccarthy', 'meitner', 'noether', 'pascal', 'poincare', 'ritchie', 'shannon', 'thompson', 'torvalds',
  'turing', 'wilson', 'wozniak', 'wright', 'yalow',
];

export function generateName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}`;
}
