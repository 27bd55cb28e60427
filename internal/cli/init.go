package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minifaas/minifaas/internal/cli/project"
	"github.com/minifaas/minifaas/internal/cli/scaffold"
)

func newInitCommand(a *app) *cobra.Command {
	var runtime, dir string
	c := &cobra.Command{
		Use:   "init <name>",
		Short: "Create a folder for a new function: handler, test, faas.yaml, README",
		Long: `Create a folder for a new function: handler.py, test_handler.py (runs with
python3 -m unittest, no cluster needed, against a copy of the runner's own
handler contract in runner/), faas.yaml and a README.`,
		Example: `  faas init hello
  faas init hello --dir functions/hello`,
		Args: args(1, 1, "the function's name"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			if err := project.ValidateName(name); err != nil {
				return err
			}
			files, err := scaffold.Files(name, runtime)
			if err != nil {
				return usageErrorf(c, "%v", err)
			}
			if dir == "" {
				dir = name
			}
			written, err := scaffold.Write(dir, files)
			if err != nil {
				return err
			}
			var shown []string
			for _, p := range written {
				rel, _ := filepath.Rel(dir, p)
				if filepath.Dir(rel) == "." {
					shown = append(shown, rel)
				}
			}
			out := a.env.Out
			fmt.Fprintf(out, "Created %s/ with %s and the runner's contract in runner/.\n", dir, strings.Join(shown, ", "))
			fmt.Fprintf(out, "Next:\n  (cd %s && python3 -m unittest)\n  faas deploy %s\n  faas invoke %s\n", dir, dir, name)
			return nil
		},
	}
	c.Flags().StringVar(&runtime, "runtime", "python", "the function's runtime: "+strings.Join(scaffold.Runtimes(), ", "))
	c.Flags().StringVar(&dir, "dir", "", "the folder to create (default: ./<name>)")
	_ = c.RegisterFlagCompletionFunc("runtime", fixedCompletion(scaffold.Runtimes()...))
	return c
}
