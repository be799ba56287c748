#include "state.h"

static const char *action_names[AS_MAX] = {
	[AS_STOPPED] = "stopped",
	[AS_WAITING] = "waiting",
	[AS_STARTING] = "starting",
	[AS_RUNNING] = "running",
	[AS_UNHEALTHY] = "unhealthy",
	[AS_BACKOFF] = "backoff",
	[AS_STOPPING] = "stopping",
	[AS_EXITED] = "exited",
	[AS_FAILED] = "failed",
};

static const char *service_names[SS_MAX] = {
	[SS_STOPPED] = "stopped",
	[SS_STARTING] = "starting",
	[SS_RUNNING] = "running",
	[SS_DEGRADED] = "degraded",
	[SS_FAILED] = "failed",
	[SS_STOPPING] = "stopping",
};

const char *
action_state_name(enum action_state s)
{
	if ((unsigned)s >= AS_MAX)
		return "unknown";
	return action_names[s];
}

const char *
service_state_name(enum service_state s)
{
	if ((unsigned)s >= SS_MAX)
		return "unknown";
	return service_names[s];
}
