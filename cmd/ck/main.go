// Command ck is customerkey's single binary: `ck dev` runs the whole system
// on one machine, `ck vault server` runs the built-in key vault, and every
// other command is a client of those servers.
package main

import "os"

func main() { os.Exit(run(os.Args[1:])) }
