/* Action and service states (herod(8), SPEC "States"). */
#ifndef HEROD_STATE_H
#define HEROD_STATE_H

enum action_state {
	AS_STOPPED = 0,
	AS_WAITING,
	AS_STARTING,
	AS_RUNNING,
	AS_UNHEALTHY,
	AS_BACKOFF,
	AS_STOPPING,
	AS_EXITED,
	AS_FAILED,
	AS_MAX
};

enum service_state {
	SS_STOPPED = 0,
	SS_STARTING,
	SS_RUNNING,
	SS_DEGRADED,
	SS_FAILED,
	SS_STOPPING,
	SS_MAX
};

const char	*action_state_name(enum action_state);
const char	*service_state_name(enum service_state);

#endif
