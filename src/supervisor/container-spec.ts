// What the engine hands the supervisor for one container, built from the
// service's model: restart policy, healthcheck and log rotation in the
// supervisor's own terms (milliseconds, bytes, argv).
import type { ServiceModel } from "../schema/model.js";
import { healthSpecOf } from "./health.js";
import { rotationOf } from "./log-rotation.js";
import type { SupervisedContainer } from "./protocol.js";
import { restartSpecOf } from "./restart-policy.js";

export function supervisedContainerOf(service: ServiceModel, container: { id: string; index: number; dir: string }): SupervisedContainer {
  return {
    id: container.id,
    service: service.name,
    index: container.index,
    dir: container.dir,
    restart: restartSpecOf(service),
    healthcheck: healthSpecOf(service.healthcheck),
    logging: rotationOf(service.logging?.options, `services.${service.name}.logging.options`),
  };
}
