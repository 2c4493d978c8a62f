# The bash echo for our shell bootstrap (bootstrap/shell, scf-shell-bootstrap):
# _HANDLER=echo.handler; the event is $1, stdout is the response.
function handler () {
  printf '%s' "$1"
}
