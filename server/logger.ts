/**
 * The one logger of an instance (pino).
 */
import pino from 'pino';

export type Logger = pino.Logger;

/** The one logger of an instance: JSON lines, each with the instance id. */
export function createLogger(instanceId: string, level: pino.LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { instance: instanceId }, timestamp: pino.stdTimeFunctions.isoTime });
}
