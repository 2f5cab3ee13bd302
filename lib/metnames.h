/* metnames.h: the stages of the pipeline, and the names of the metrics one tool exports and
 * another reads (serve's /api/status reads each stage's RUN_DIR/<stage>.prom by these
 * names), in one place, so that a name cannot change on one side only.
 *
 * The names are a contract beyond this tree too — deploy/grafana, deploy/alerts.yml and
 * users' own alerts read them (tests/deploy.bats checks the first two): never rename one.
 * A metric read only by its own tool, or only by Prometheus, keeps its name where it is
 * registered. */
#ifndef METNAMES_H
#define METNAMES_H

/* The stages in pipeline order (elect beside them); each writes RUN_DIR/<name>.prom. */
enum stage { STAGE_INGEST, STAGE_CONVERT, STAGE_DISTRIBUTE, STAGE_SERVE, STAGE_ELECT, STAGE_COUNT };

static inline const char *stage_name(enum stage s)
{
	static const char *const names[STAGE_COUNT] = {
		[STAGE_INGEST] = "ingest",   [STAGE_CONVERT] = "convert", [STAGE_DISTRIBUTE] = "distribute",
		[STAGE_SERVE] = "serve",     [STAGE_ELECT] = "elect",
	};
	return names[s];
}

/* Every tool: gauge, labelled tool="<stage>". */
#define MN_RSS "exchange_process_resident_memory_bytes"

/* ingest, one series per exchange (exchange="<id>"); every name starts with the prefix. */
#define MN_INGEST_PREFIX "exchange_ingest_"
#define MN_INGEST_FRAMES "exchange_ingest_frames_total"                /* counter: the stage's rate */
#define MN_INGEST_CONNECTED "exchange_ingest_connected"                /* gauge, 1 or 0 */
#define MN_INGEST_RECONNECTS "exchange_ingest_reconnects_total"        /* counter */
#define MN_INGEST_DROPPED "exchange_ingest_dropped_total"              /* counter */
#define MN_INGEST_FRAME_AGE "exchange_ingest_last_frame_age_seconds"   /* gauge */

/* convert */
#define MN_CONVERT_LINES "exchange_convert_lines_total"  /* counter: the stage's rate */
#define MN_FEED_LATENCY "exchange_feed_latency_seconds"  /* histogram per exchange, ts -> local_ts */

/* distribute */
#define MN_DIST_LINES_OUT "exchange_distribute_lines_out_total"            /* counter: the stage's rate */
#define MN_DIST_KAFKA_CONFIGURED "exchange_distribute_kafka_configured"    /* gauge: --kafka given */
#define MN_DIST_KAFKA_MODE "exchange_distribute_kafka_mode"                /* gauge: 1 Kafka, 0 direct */
#define MN_DIST_CONSUMER_LAG "exchange_distribute_consumer_lag"            /* gauge */
#define MN_DIST_PRODUCED "exchange_distribute_produced_total"              /* counter */
#define MN_DIST_CONSUMED "exchange_distribute_consumed_total"              /* counter */
#define MN_KAFKA_UP "exchange_kafka_up"                                    /* gauge */

#endif
