ln ctx/one ctx/two
mkdir -p ctx/sub && ln ctx/one ctx/sub/three
