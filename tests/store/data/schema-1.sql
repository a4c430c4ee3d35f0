-- A database written by openrft 1384edf (schema version 1, before numbered migrations):
-- Store(DIR) and one row of every table, dumped with sqlite3's iterdump.
-- tests/store/test_migrations.py loads it and checks that it upgrades to the current schema.
BEGIN TRANSACTION;
CREATE TABLE eval_output_items (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	eval_id VARCHAR(64) NOT NULL, 
	created_at BIGINT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	datasource_item_id INTEGER NOT NULL, 
	datasource_item JSON NOT NULL, 
	results JSON NOT NULL, 
	sample JSON, 
	PRIMARY KEY (seq), 
	UNIQUE (run_id, datasource_item_id), 
	UNIQUE (id), 
	FOREIGN KEY(run_id) REFERENCES eval_runs (id) ON DELETE CASCADE
);
INSERT INTO "eval_output_items" VALUES(1,'outputitem_aaaa','evalrun_aaaa','eval_aaaa',1790000031,'pass',0,'{"answer": "a"}','[{"name": "g", "type": "string-check-grader", "score": 1.0, "passed": true, "sample": null}]','{"output_text": "a"}');
CREATE TABLE eval_runs (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	eval_id VARCHAR(64) NOT NULL, 
	name TEXT NOT NULL, 
	created_at BIGINT NOT NULL, 
	model TEXT, 
	data_source JSON NOT NULL, 
	metadata JSON, 
	result_counts JSON NOT NULL, 
	per_model_usage JSON, 
	per_testing_criteria_results JSON, 
	error JSON, 
	job_id VARCHAR(64), 
	status VARCHAR(32) NOT NULL, 
	worker_id VARCHAR(128), 
	lease_expires_at FLOAT, 
	attempts INTEGER NOT NULL, 
	control VARCHAR(16), 
	PRIMARY KEY (seq), 
	UNIQUE (id), 
	FOREIGN KEY(eval_id) REFERENCES evals (id) ON DELETE CASCADE
);
INSERT INTO "eval_runs" VALUES(1,'evalrun_aaaa','eval_aaaa','validation step 2',1790000031,'tiny','{"type": "jsonl"}','{"step": "2", "fine_tuning_job_id": "ftjob-aaaaaaaaaaaaaaaaaaaaaaaa"}','{"total": 1, "errored": 0, "failed": 0, "passed": 1}',NULL,NULL,NULL,'ftjob-aaaaaaaaaaaaaaaaaaaaaaaa','completed',NULL,NULL,0,NULL);
INSERT INTO "eval_runs" VALUES(2,'evalrun_bbbb','eval_aaaa','queued run',1790000032,NULL,'{"type": "jsonl"}',NULL,'{"total": 0, "errored": 0, "failed": 0, "passed": 0}',NULL,NULL,NULL,NULL,'queued',NULL,NULL,0,NULL);
CREATE TABLE evals (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	name TEXT NOT NULL, 
	created_at BIGINT NOT NULL, 
	updated_at BIGINT NOT NULL, 
	metadata JSON, 
	data_source_config JSON NOT NULL, 
	testing_criteria JSON NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (id)
);
INSERT INTO "evals" VALUES(1,'eval_aaaa','ftjob-aaaaaaaaaaaaaaaaaaaaaaaa validation',1790000000,1790000000,'{"fine_tuning_job_id": "ftjob-aaaaaaaaaaaaaaaaaaaaaaaa"}','{"type": "custom", "schema": {"type": "object"}}','[{"type": "string_check", "name": "g", "id": "g-1", "input": "a", "reference": "a", "operation": "eq"}]');
CREATE TABLE files (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	filename TEXT NOT NULL, 
	purpose VARCHAR(32) NOT NULL, 
	bytes BIGINT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	created_at BIGINT NOT NULL, 
	expires_at BIGINT, 
	status VARCHAR(16) NOT NULL, 
	status_details TEXT, 
	PRIMARY KEY (seq), 
	UNIQUE (id)
);
INSERT INTO "files" VALUES(1,'file-aaaaaaaaaaaaaaaaaaaaaaaa','train.jsonl','fine-tune',42,'0000000000000000000000000000000000000000000000000000000000000000',1790000000,NULL,'processed',NULL);
CREATE TABLE fine_tuning_job_checkpoints (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	job_id VARCHAR(64) NOT NULL, 
	created_at BIGINT NOT NULL, 
	step_number INTEGER NOT NULL, 
	fine_tuned_model_checkpoint TEXT NOT NULL, 
	metrics JSON NOT NULL, 
	path TEXT NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (job_id, step_number), 
	UNIQUE (id), 
	FOREIGN KEY(job_id) REFERENCES fine_tuning_jobs (id) ON DELETE CASCADE
);
INSERT INTO "fine_tuning_job_checkpoints" VALUES(1,'ftckpt_aaaaaaaaaaaaaaaaaaaaaaaa','ftjob-aaaaaaaaaaaaaaaaaaaaaaaa',1790000030,2,'ft:tiny:openrft::aaaaaaaaaaaaaaaaaaaaaaaa:ckpt-step-2','{"step": 2, "valid_reward_mean": 0.5}','/tmp/ckpt');
CREATE TABLE fine_tuning_job_events (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	job_id VARCHAR(64) NOT NULL, 
	created_at BIGINT NOT NULL, 
	level VARCHAR(8) NOT NULL, 
	message TEXT NOT NULL, 
	type VARCHAR(32) NOT NULL, 
	data JSON NOT NULL, 
	source VARCHAR(16) NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (job_id, id), 
	FOREIGN KEY(job_id) REFERENCES fine_tuning_jobs (id) ON DELETE CASCADE
);
INSERT INTO "fine_tuning_job_events" VALUES(1,'ftevent-1','ftjob-aaaaaaaaaaaaaaaaaaaaaaaa',1790000000,'info','Job started','message','null','server');
CREATE TABLE fine_tuning_jobs (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	created_at BIGINT NOT NULL, 
	model TEXT NOT NULL, 
	training_file VARCHAR(64) NOT NULL, 
	validation_file VARCHAR(64), 
	suffix VARCHAR(64), 
	seed BIGINT NOT NULL, 
	method JSON NOT NULL, 
	metadata JSON, 
	integrations JSON, 
	error JSON, 
	fine_tuned_model TEXT, 
	finished_at BIGINT, 
	trained_tokens BIGINT, 
	result_files JSON NOT NULL, 
	eval_id VARCHAR(64), 
	step INTEGER, 
	total_steps INTEGER, 
	status VARCHAR(32) NOT NULL, 
	worker_id VARCHAR(128), 
	lease_expires_at FLOAT, 
	attempts INTEGER NOT NULL, 
	control VARCHAR(16), 
	PRIMARY KEY (seq), 
	UNIQUE (id)
);
INSERT INTO "fine_tuning_jobs" VALUES(1,'ftjob-aaaaaaaaaaaaaaaaaaaaaaaa',1790000000,'tiny','file-aaaaaaaaaaaaaaaaaaaaaaaa',NULL,NULL,7,'{"type": "reinforcement", "reinforcement": {"grader": {"type": "string_check", "name": "g", "input": "a", "reference": "a", "operation": "eq"}}}',NULL,NULL,NULL,'ft:tiny:openrft::aaaaaaaaaaaaaaaaaaaaaaaa',1790000060,NULL,'[]','eval_aaaa',2,2,'succeeded',NULL,NULL,1,NULL);
CREATE TABLE models (
	seq INTEGER NOT NULL, 
	id VARCHAR(512) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	path TEXT NOT NULL, 
	created_at BIGINT NOT NULL, 
	owned_by VARCHAR(64) NOT NULL, 
	job_id VARCHAR(64), 
	PRIMARY KEY (seq), 
	UNIQUE (id)
);
INSERT INTO "models" VALUES(1,'ft:tiny:openrft::aaaaaaaaaaaaaaaaaaaaaaaa:ckpt-step-2','checkpoint','/tmp/ckpt',1790000030,'openrft','ftjob-aaaaaaaaaaaaaaaaaaaaaaaa');
CREATE TABLE openrft_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "openrft_meta" VALUES('schema_version','1');
CREATE TABLE saved_graders (
	seq INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	name TEXT NOT NULL, 
	grader JSON NOT NULL, 
	created_at BIGINT NOT NULL, 
	updated_at BIGINT NOT NULL, 
	PRIMARY KEY (seq), 
	UNIQUE (id)
);
INSERT INTO "saved_graders" VALUES(1,'grader_aaaa','exact','{"type": "string_check"}',1790000000,1790000000);
CREATE INDEX ix_files_purpose ON files (purpose);
CREATE INDEX ix_fine_tuning_jobs_status ON fine_tuning_jobs (status);
CREATE INDEX ix_models_job_id ON models (job_id);
CREATE INDEX ix_events_job_seq ON fine_tuning_job_events (job_id, seq);
CREATE INDEX ix_fine_tuning_job_checkpoints_job_id ON fine_tuning_job_checkpoints (job_id);
CREATE INDEX ix_eval_runs_eval_id ON eval_runs (eval_id);
CREATE INDEX ix_eval_runs_status ON eval_runs (status);
CREATE INDEX ix_output_items_run_seq ON eval_output_items (run_id, seq);
COMMIT;
