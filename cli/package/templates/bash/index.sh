# An SCF function in bash, written like the index.sh of Tencent's custom-runtime guide.
# scf-shell-bootstrap sources this file and calls `main_handler "$EVENT"` for each event:
# stdout is the response, stderr goes to the log, a non-zero exit status fails the invocation.
function main_handler () {
  EVENT_DATA=$1
  echo "received: $EVENT_DATA" 1>&2
  echo "{\"echo\":$EVENT_DATA}"
}
