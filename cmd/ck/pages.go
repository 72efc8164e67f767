package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// paging is a listing command's paging flags: by default it reads every
// page and prints them as one list; --page-size sets the rows asked per
// request, --cursor starts at a page another listing answered (its
// nextCursor), and --no-follow prints one page only, with its nextCursor
// (in -o json; on stderr otherwise).
type paging struct {
	client.Page
	noFollow bool
}

func pageFlags(cmd *cobra.Command) *paging {
	p := &paging{}
	cmd.Flags().IntVar(&p.PageSize, "page-size", 0, "rows per request, 1-1000 (default: 1000 when reading every page, the service's 100 with --no-follow)")
	cmd.Flags().StringVar(&p.Cursor, "cursor", "", "start at this page: the nextCursor of an earlier answer")
	cmd.Flags().BoolVar(&p.noFollow, "no-follow", false, "print one page only, with the cursor of the next")
	return p
}

// pageExample is the paging lines of a listing command's --help examples.
func pageExample(cmdline string) string {
	return "  " + cmdline + "   # every page\n" +
		"  " + cmdline + " --page-size 50 --no-follow -o json   # one page of 50, with its nextCursor\n" +
		"  " + cmdline + " --cursor CURSOR   # from that page on"
}

// readPages reads a listing as p asks.
func readPages[T any](ctx context.Context, a *app, p *paging, get func(context.Context, client.Page) (client.List[T], error)) (client.List[T], error) {
	if p.noFollow {
		l, err := get(ctx, p.Page)
		if err == nil && l.NextCursor != "" && a.output != "json" {
			fmt.Fprintf(a.stderr, "more: --cursor %s\n", l.NextCursor)
		}
		return l, err
	}
	all, err := client.All(ctx, p.Page, get)
	return client.List[T]{Value: all}, err
}
