"""Help with `?`: the screens, their keys, and what the picture means."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from . import SCREENS_CSS

HELP = """\
# cnmlab: the Container Network Model, live

**Screens** (keys work everywhere, or use the command palette: `ctrl+p`)

| key | screen |
|---|---|
| `h` | topology: tree, CNM picture, inspect JSON |
| `p` | probe: send one packet, or trace it hop by hop |
| `m` | matrix: every sandbox to every sandbox |
| `e` | events: the engine's live event log |

**Topology actions**

| key | action |
|---|---|
| `n` | create a network (driver, subnet, gateway, internal, options) |
| `r` | run a container (name, network, alias, ports, host) |
| `c` / `d` | connect / disconnect a container and a network |
| `x` | remove the selected container, network, endpoint or host |
| `a` | add a host on the underlay LAN |
| `ctrl+r` | reload the lab from the engine |

**Probe**: `s` send, `t` trace, `w` swap ends. The destination is a container or alias, an IP,
a host, or `HOST:PORT` for a published port; `↓`/`↑` in it step through the lab's names. In a
text field letters are text: `enter` sends, `ctrl+t` traces, `escape` leaves the field.
**Trace**: `→`/`←` step through the hops, `space` play them in order. **Matrix**: `r` re-run,
`f` filter to one network, arrows move; the cell under the cursor is explained. **Lab guide**: `←`/`→` steps, `enter` runs the step's check.

**The picture**: each box is a *sandbox* (a container's network namespace); each dot in it is an
*endpoint* (a veth end: `eth0`, `eth1`); each bar is a *network*. A dot on a bar is an endpoint
plugged into that network; `╂` is a line passing a network it does not join.

`escape` closes this help and goes back to the topology from any screen (from a text field, it
first leaves the field); `q` quits.
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = SCREENS_CSS
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
