package pipelines

import (
	"context"
	"errors"
	"fmt"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/internal/table"
)

// groups reads the display names of the groups that assign licenses (after the users, whose licenses name them).
// Names are for people to read: a missing permission or a failure is a run warning (and the group_names_unknown
// finding), the licenses keep their group ids, and the run goes on; only a cancelled run stops here.
func (r *run) groups(ctx context.Context, x *graph.Extractor, c *odata.Client, ids []string, sink table.Sink) error {
	if len(ids) == 0 {
		return nil
	}
	st := r.streamStats(graph.Groups.Name)
	res, err := x.Groups(ctx, c.WithStats(st), ids, sink)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return err
	case errors.Is(err, graph.ErrGroupsDenied):
		// A stable text (no request id): the same condition every night is reported once, as new warnings are.
		r.warn(fmt.Sprintf("%s: the app may not read groups, so the %d group(s) that assign licenses are named by id only: "+
			"grant the app the Microsoft Graph application permission %s and admin consent", graph.Groups.Name, len(ids), graph.GroupPermission))
	default:
		r.log.Error("group names not read", "stream", graph.Groups.Name, "err", err)
		r.warn(fmt.Sprintf("%s: the names of the groups that assign licenses could not be read this run (the log says why); the licenses keep their group ids", graph.Groups.Name))
	}
	if res.NotFound > 0 {
		r.log.Info("groups that assign licenses no longer exist (deleted since the users were read)", "stream", graph.Groups.Name, "not_found", res.NotFound)
	}
	return nil
}
