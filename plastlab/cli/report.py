"""``plastlab report``: the argparse part; the work is :mod:`plastlab.report` (imported when the command runs)."""


def add_report_command(commands):
    rep = commands.add_parser(
        "report", help="turn result files (results.nc, campaign.nc) into a Markdown page with figures",
        description="Read the results that plastlab run, classify or evolve wrote (each DIR holds results.nc or "
                    "campaign.nc; a published.toml beside it adds the published numbers to compare with) and write "
                    "one Markdown page: per result the command, date, seed, versions, the numbers and a figure "
                    "(figures go to PAGE_figures/ beside the page). Every input is checked before anything is "
                    "written.")
    rep.add_argument("results", nargs="+", metavar="DIR", help="result directories or .nc files")
    rep.add_argument("--out", required=True, metavar="PAGE.md", help="the Markdown page to write")
    rep.add_argument("--title", default="Reproductions", help="the page's title (default: Reproductions)")
    rep.set_defaults(handler=report_command, out_is_file=True, out_suffixes=(".md",))


def report_command(args):
    from ..report import report

    page = report(args.results, args.out, title=args.title)
    print(f"wrote {page}")
    return 0
