package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// GroupPermission is the least privileged Graph application permission that reads a group's display name (Learn,
// "Get group"); Group.Read.All, Directory.Read.All and the ReadWrite ones read it too.
const GroupPermission = "GroupMember.Read.All"

// ErrGroupsDenied means the app may not read groups: the group names stay unknown (licenses keep their group ids),
// and a run goes on without them.
var ErrGroupsDenied = errors.New("graph: the app may not read groups, so the groups that assign licenses are known by id only: " +
	"grant the app the Microsoft Graph application permission " + GroupPermission + " and admin consent")

// GroupsResult says what the groups stream read.
type GroupsResult struct {
	Read     int // groups landed with their names
	NotFound int // ids Graph no longer knows (deleted since the users were read)
}

// Groups reads the display name of each group in ids (the groups that assign licenses, UsersResult.Groups) with
// GET /groups/{id}?$select=id,displayName into graph_groups. A group Graph does not find (deleted since) is
// counted and left out; a refusal (403: the permission is missing) returns ErrGroupsDenied at once.
func (x *Extractor) Groups(ctx context.Context, p pages.Pager, ids []string, sink table.Sink) (GroupsResult, error) {
	var res GroupsResult
	bt := x.NewBatcher(Groups, sink)
	defer bt.Release()
	prov := x.Provenance(bt.Builder())
	groupID, name := bt.String("group_id"), bt.String("display_name")
	var g struct {
		ID          string  `json:"id"`
		DisplayName *string `json:"displayName"`
	}
	decode := func(body []byte) (string, error) {
		g.ID, g.DisplayName = "", nil
		if err := jsonUnmarshal(body, &g); err != nil {
			return "", pages.Bad("group", err)
		}
		if g.ID == "" {
			return "", pages.Bad("group", errors.New("no id"))
		}
		return "", nil
	}
	for _, id := range ids {
		err := p.Walk(ctx, x.url("groups/"+url.PathEscape(id), "$select=id,displayName"), decode)
		var he *outbound.Error
		switch {
		case errors.As(err, &he) && he.Status == http.StatusNotFound:
			res.NotFound++
			x.Log().Debug("a group that assigns licenses was not found (deleted since?)", "group_id", id)
			continue
		case errors.As(err, &he) && (he.Status == http.StatusForbidden || he.Code == codeRequestDenied):
			return res, fmt.Errorf("%w (%v)", ErrGroupsDenied, err)
		case err != nil:
			return res, fmt.Errorf("reading group %s: %w", id, err)
		}
		prov.Append()
		groupID.Append(g.ID)
		table.AppendString(name, g.DisplayName)
		if err := bt.RowDone(ctx); err != nil {
			return res, err
		}
		res.Read++
	}
	return res, bt.Flush(ctx)
}
