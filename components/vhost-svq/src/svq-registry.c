/* SPDX-License-Identifier: MIT */
/* The VMM's table of shadow virtqueue sets, by device name (for QMP). */
#include "svq-private.h"

struct SvqRegistry {
    GHashTable *by_name; /* name (owned) -> SvqDev */
};

SvqRegistry *svq_registry_new(void)
{
    SvqRegistry *reg = g_new0(SvqRegistry, 1);

    reg->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return reg;
}

static gboolean detach_one(gpointer key, gpointer value, gpointer data)
{
    SvqDev *svq = value;

    (void)key;
    (void)data;
    svq->registry = NULL;
    return TRUE;
}

void svq_registry_free(SvqRegistry *reg)
{
    if (!reg) {
        return;
    }
    g_hash_table_foreach_remove(reg->by_name, detach_one, NULL);
    g_hash_table_destroy(reg->by_name);
    g_free(reg);
}

bool svq_registry_add(SvqRegistry *reg, SvqDev *svq, GError **errp)
{
    const char *name = svq_get_name(svq);

    if (!reg || !svq) {
        g_set_error(errp, VHU_ERROR, VHU_ERROR_INVALID, "svq_registry_add: NULL argument");
        return false;
    }
    if (svq->registry) {
        g_set_error(errp, VHU_ERROR, VHU_ERROR_INVALID, "%s: already in a registry", name);
        return false;
    }
    if (g_hash_table_contains(reg->by_name, name)) {
        g_set_error(errp, VHU_ERROR, VHU_ERROR_INVALID,
                    "%s: another device has this name", name);
        return false;
    }
    g_hash_table_insert(reg->by_name, g_strdup(name), svq);
    svq->registry = reg;
    return true;
}

void svq_registry_forget(SvqRegistry *reg, SvqDev *svq)
{
    if (g_hash_table_lookup(reg->by_name, svq_get_name(svq)) == svq) {
        g_hash_table_remove(reg->by_name, svq_get_name(svq));
    }
    svq->registry = NULL;
}

void svq_registry_remove(SvqRegistry *reg, SvqDev *svq)
{
    if (reg && svq && svq->registry == reg) {
        svq_registry_forget(reg, svq);
    }
}

SvqDev *svq_registry_lookup(const SvqRegistry *reg, const char *name)
{
    return reg && name ? g_hash_table_lookup(reg->by_name, name) : NULL;
}

bool svq_registry_set_enabled(SvqRegistry *reg, const char *name, bool enable,
                              GError **errp)
{
    SvqDev *svq = svq_registry_lookup(reg, name);

    if (!svq) {
        g_set_error(errp, VHU_ERROR, SVQ_ERROR_NOT_FOUND,
                    "Can't %s shadow vq on %s: device not found", enable ? "enable" : "disable",
                    name ? name : "(null)");
        return false;
    }
    return enable ? svq_enable(svq, errp) : svq_disable(svq, errp);
}
