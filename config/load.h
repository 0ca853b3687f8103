/*
 * load.h — the configuration loader's sections, shared by config.c
 * (limits, servers, the file) and rules.c (rules, fault_domain,
 * alertmanager). Not for use outside config/.
 */
#ifndef SPANWATCH_CONFIG_LOAD_H
#define SPANWATCH_CONFIG_LOAD_H

#include "config/config.h"
#include "config/yaml_util.h"

int config_load_rules(struct yaml_ctx *cx, yaml_node_t *n, struct config *c);
/* every rule's `server` names a servers: group, an IP:port or "*" */
int config_check_rule_servers(struct yaml_ctx *cx, const struct config *c);
int config_load_fault_domain(struct yaml_ctx *cx, yaml_node_t *m, struct config *c);
int config_load_alertmanager(struct yaml_ctx *cx, yaml_node_t *m, struct config *c);

#endif
