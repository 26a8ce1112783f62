#!/usr/bin/env bash
# Stand-in for vscode-dev-containers' common-debian.sh: its user, sudoers and marker steps.
set -e
INSTALL_ZSH=${1:-"true"}
USERNAME=${2:-"automatic"}
USER_UID=${3:-"automatic"}
USER_GID=${4:-"automatic"}
UPGRADE_PACKAGES=${5:-"true"}
INSTALL_OH_MYS=${6:-"true"}
ADD_NON_FREE_PACKAGES=${7:-"false"}
MARKER_FILE="/usr/local/etc/vscode-dev-containers/common"
. "$(dirname "$0")/meta.env"

if [ "$(id -u)" -ne 0 ]; then echo 'Script must be run as root.'; exit 1; fi

# Create or update a non-root user to match UID/GID.
group_name="${USERNAME}"
if id -u ${USERNAME} > /dev/null 2>&1; then
    echo "user exists"
else
    if [ "${USER_GID}" = "automatic" ]; then groupadd $USERNAME; else groupadd --gid $USER_GID $USERNAME; fi
    if [ "${USER_UID}" = "automatic" ]; then
        useradd -s /bin/bash --gid $USERNAME -m $USERNAME
    else
        useradd -s /bin/bash --uid $USER_UID --gid $USERNAME -m $USERNAME
    fi
fi

# Add add sudo support for non-root user
mkdir -p /etc/sudoers.d
echo $USERNAME ALL=\(root\) NOPASSWD:ALL > /etc/sudoers.d/$USERNAME
chmod 0440 /etc/sudoers.d/$USERNAME

# ** Shell customization section **
if [ "${USERNAME}" = "root" ]; then user_rc_path="/root"; else user_rc_path="/home/${USERNAME}"; fi
if [ ! -f "${user_rc_path}/.bashrc" ] || [ ! -s "${user_rc_path}/.bashrc" ] ; then
    cp  /etc/skel/.bashrc "${user_rc_path}/.bashrc"
fi
if  [ ! -f "${user_rc_path}/.profile" ] || [ ! -s "${user_rc_path}/.profile" ] ; then
    cp  /etc/skel/.profile "${user_rc_path}/.profile"
fi
echo 'export PATH=$PATH:$HOME/.local/bin' >> "${user_rc_path}/.bashrc"
mkdir -p "${user_rc_path}/.local/bin" /usr/local/etc/vscode-dev-containers
chown -R ${USERNAME}:${group_name} "${user_rc_path}"
cat > /usr/local/bin/code <<'EOF'
#!/bin/sh
echo "code stand-in"
EOF
chmod +x /usr/local/bin/code

# Write marker file
echo -e "\
    PACKAGES_ALREADY_INSTALLED=true\n\
    LOCALE_ALREADY_SET=true\n\
    EXISTING_NON_ROOT_USER=${USERNAME}\n\
    RC_SNIPPET_ALREADY_ADDED=true\n\
    ZSH_ALREADY_INSTALLED=${INSTALL_ZSH}" > "${MARKER_FILE}"
echo "Done! (${SCRIPT_VERSION})"
